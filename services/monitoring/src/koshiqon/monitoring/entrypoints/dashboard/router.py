"""`/dashboard`: the monitoring dashboard, server-rendered HTML in Kazakh, Russian or English
(`?lang=`, a switch on every page), with its charts drawn by plotly.js from the service
itself (the plotly package's bundled `plotly.min.js`: no CDN, it works offline).

- `/dashboard` the nation: every region's main indicators and active alerts, net migration
  by region, quota targets against actuals; `/dashboard/regions/{kato}` one region.
- `.../tables/{sheet}.csv` each table of a page as CSV (the figures of `/v1/indicators.csv`).
- `/dashboard/login`, `/dashboard/logout`: the browser's session (session.py).

The pages are not API operations (`include_in_schema=False`). A bad period is a 422 page,
an unknown region a 404 page, an unknown language the default one; a program's bearer token
that fails gets the API's 401/403 problem."""

from __future__ import annotations

import importlib.util
import urllib.parse
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from koshiqon.common import kz
from koshiqon.common.errors import DomainError, Forbidden, NotFound, Unauthenticated
from koshiqon.monitoring import forecasting
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain.demand import Norms
from koshiqon.monitoring.domain.periods import FIRST_YEAR, Period, parse_period
from koshiqon.monitoring.entrypoints.dashboard import pages, session
from koshiqon.monitoring.entrypoints.dashboard.i18n import LANGS, LANGUAGE_NAMES, Lang, Words, pick
from koshiqon.monitoring.entrypoints.dashboard.sheets import Sheet

router = APIRouter(prefix="/dashboard", include_in_schema=False)

HERE = Path(__file__).parent
STATIC = HERE / "static"


def _plotly_js() -> Path:
    """plotly.js as the plotly package bundles it (found without importing the package)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed")
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"plotly.min.js is missing from {path.parent}")
    return path


PLOTLY_JS = _plotly_js()
PLOTLY_VERSION = metadata.version("plotly")
PLOTLY_URL = f"/dashboard/static/plotly-{PLOTLY_VERSION}.min.js"
FOREVER = "public, max-age=31536000, immutable"  # the URL names the version
FIRST_SHOWN_YEAR = 2015
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)  # plotly.js sets inline styles on its elements; no inline script anywhere
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _now(request: Request) -> datetime:
    bus = getattr(request.app.state, "bus", None)
    now = getattr(getattr(bus, "deps", None), "now", None)
    found = now() if callable(now) else None
    return found if isinstance(found, datetime) else datetime.now(UTC)


def _period(request: Request, text: str | None) -> Period:
    """The period asked for (`parse_period`'s rules), or this year in Kazakhstan."""
    if text is None or text == "":
        return parse_period(str(kz.kz_year(_now(request))))
    return parse_period(text, field="period")


def _url(path: str, **params: str | None) -> str:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path


def _render(
    request: Request, name: str, lang: Lang, *, status: int = 200, **context: Any
) -> HTMLResponse:
    kept = {k: v for k, v in request.query_params.items() if k != "lang"}  # period, next...
    switch = [(code, LANGUAGE_NAMES[code], _url(request.url.path, lang=code, **kept))
              for code in LANGS]  # fmt: skip
    body = templates.get_template(name).render(
        t=Words(lang), lang=lang, switch=switch, plotly_url=PLOTLY_URL,
        plotly_version=PLOTLY_VERSION, path=request.url.path, **context,
    )  # fmt: skip
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def _error(request: Request, lang: Lang, status: int, error: DomainError) -> HTMLResponse:
    key = {404: "not_found", 403: "forbidden"}.get(status, "bad_request")
    return _render(
        request, "error.html", lang, status=status, heading=key, detail=error.detail,
        field=error.field,
    )  # fmt: skip


def _status(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Unauthenticated):
        return 401
    return 422


def _sign_in(request: Request, lang: Lang, reason: str | None) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target = f"{target}?{request.url.query}"
    response = RedirectResponse(
        _url("/dashboard/login", lang=lang, next=target, error=reason), status_code=303
    )
    if reason is not None:
        session.clear_session(response, request)
    return response


async def _guard(request: Request, lang: Lang) -> session.Viewer | Response:
    """The viewer, or the response that stands in for the page: the sign-in form for a
    browser without a valid session, the 403 page for one whose token lacks the scope. A
    program's failing bearer token raises (problem+json)."""
    try:
        return await session.viewer(request)
    except session.SignInNeeded as needed:
        return _sign_in(request, lang, needed.reason)
    except Forbidden as error:
        if session.from_program(request):
            raise
        return _error(request, lang, 403, error)


def _periods(selected: Period, now: datetime) -> dict[str, list[str]]:
    year = selected.start.year
    last = max(kz.kz_year(now), year)
    first = max(FIRST_YEAR, min(FIRST_SHOWN_YEAR, year))
    return {
        "years": [str(y) for y in range(last, first - 1, -1)],
        "quarters": [f"{year}-Q{q}" for q in range(1, 5)],
        "months": [f"{year}-{m:02d}" for m in range(1, 13)],
    }


def _norms(request: Request) -> Norms:
    """The §9 demand norms the service is configured with (those of the forecast route)."""
    settings = request.app.state.settings
    if isinstance(settings, MonitoringSettings):
        return settings.forecast_norms()
    return forecasting.default_norms()


def _region(kato: str) -> kz.Region:
    if not kz.is_region_code(kato):
        raise NotFound(f"{kato} is not the KATO code of a region", field="kato")
    return kz.region_by_kato(kato)


# --- pages -------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def national_page(
    request: Request, lang: str | None = None, period: str | None = None
) -> Response:
    language = pick(lang)
    who = await _guard(request, language)
    if isinstance(who, Response):
        return who
    try:
        selected = _period(request, period)
        page = await pages.national(request.app.state.engine, selected, language)
    except DomainError as error:
        return _error(request, language, _status(error), error)
    return _page(request, language, selected, page, who, base="/dashboard")


@router.get("/")
async def trailing_slash(request: Request) -> RedirectResponse:
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/dashboard{query}", status_code=308)


@router.get("/regions/{kato}", response_class=HTMLResponse)
async def region_page(
    request: Request, kato: str, lang: str | None = None, period: str | None = None
) -> Response:
    language = pick(lang)
    who = await _guard(request, language)
    if isinstance(who, Response):
        return who
    try:
        region = _region(kato)
        selected = _period(request, period)
        page = await pages.region(
            request.app.state.engine, region, selected, language, norms=_norms(request)
        )
    except DomainError as error:
        return _error(request, language, _status(error), error)
    return _page(request, language, selected, page, who, base=f"/dashboard/regions/{kato}")


def _page(
    request: Request, lang: Lang, selected: Period, page: pages.Page, who: session.Viewer,
    *, base: str,
) -> HTMLResponse:  # fmt: skip
    csv_urls = {
        key: _url(f"{base}/tables/{key}.csv", lang=lang, period=selected.label)
        for key in page.sheets
    }
    figures = {
        chart.key: orjson.dumps(chart.figure).decode().replace("<", "\\u003c")
        for chart in page.charts
    }
    return _render(
        request, "page.html", lang, page=page, period=selected, csv_urls=csv_urls, figures=figures,
        periods=_periods(selected, _now(request)), subject=who.principal.subject,
        national=base == "/dashboard", lang_query=lang,
    )  # fmt: skip


# --- tables as CSV -----------------------------------------------------------------------------


@router.get("/tables/{sheet}.csv")
async def national_csv(
    request: Request, sheet: str, lang: str | None = None, period: str | None = None
) -> Response:
    language = pick(lang)
    who = await _guard(request, language)
    if isinstance(who, Response):
        return who
    selected = _period(request, period)
    page = await pages.national(request.app.state.engine, selected, language)
    return _csv(page.sheets, sheet, f"{selected.label}")


@router.get("/regions/{kato}/tables/{sheet}.csv")
async def region_csv(
    request: Request, kato: str, sheet: str, lang: str | None = None, period: str | None = None
) -> Response:
    language = pick(lang)
    who = await _guard(request, language)
    if isinstance(who, Response):
        return who
    region = _region(kato)
    selected = _period(request, period)
    page = await pages.region(
        request.app.state.engine, region, selected, language, norms=_norms(request)
    )
    return _csv(page.sheets, sheet, f"{kato}-{selected.label}")


def _csv(sheets: dict[str, Sheet], key: str, suffix: str) -> Response:
    found = sheets.get(key)
    if found is None:
        raise NotFound(f"no table {key!r} on this page", field="sheet")
    return Response(
        found.csv(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{key}-{suffix}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- the session -------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path of this site, nothing else."""
    if not target or not target.startswith("/dashboard") or target.startswith("//"):
        return "/dashboard"
    if any(ch in target for ch in "\\\r\n"):
        return "/dashboard"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    lang: str | None = None,
    target: Annotated[str | None, Query(alias="next")] = None,
    error: str | None = None,
) -> HTMLResponse:
    language = pick(lang)
    known = error if error in ("session_ended",) else None
    return _login(request, language, _safe_next(target), error=known, status=200)


def _login(
    request: Request, lang: Lang, target: str, *, error: str | None, status: int,
    detail: str | None = None,
) -> HTMLResponse:  # fmt: skip
    return _render(
        request, "login.html", lang, status=status, next=target, error=error, detail=detail
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await _form(request)
    language = pick(form.get("lang"))
    target = _safe_next(form.get("next"))
    if form.get("_error"):
        return _login(request, language, target, error="empty_token", status=422)
    if not session.posted_here(request):
        return _login(request, language, target, error="cross_site", status=403)
    token = form.get("token", "")
    if not token.strip():
        return _login(request, language, target, error="empty_token", status=422)
    try:
        await session.sign_in(request, token)
    except Unauthenticated as refused:
        return _login(request, language, target, error="bad_token", status=401,
                      detail=refused.detail)  # fmt: skip
    except Forbidden as refused:
        return _login(request, language, target, error="no_scope", status=403,
                      detail=refused.detail)  # fmt: skip
    sep = "&" if "?" in target else "?"
    has_lang = "lang=" in target
    response = RedirectResponse(target if has_lang else f"{target}{sep}lang={language}", 303)
    session.set_session(response, request, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    language = pick(form.get("lang"))
    if not session.posted_here(request):
        return _login(request, language, "/dashboard", error="cross_site", status=403)
    response = RedirectResponse(_url("/dashboard/login", lang=language), status_code=303)
    session.clear_session(response, request)
    return response


MAX_FORM_FIELDS = 8


async def _form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body's fields (the first of each name); a body
    of another type or not UTF-8 gives `{"_error": ...}`."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if media != "application/x-www-form-urlencoded":
        return {"_error": "content-type"}
    try:
        fields = urllib.parse.parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return {"_error": "body"}
    return {name: values[0] for name, values in fields.items() if values}


# --- static files ------------------------------------------------------------------------------


@router.get(PLOTLY_URL.removeprefix("/dashboard"))
async def plotly_js() -> FileResponse:
    """plotly.js as the plotly package bundles it (MIT licence: `plotly_licence`)."""
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": FOREVER, "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


@router.get("/static/plotly-LICENSE.txt")
async def plotly_licence() -> Response:
    """The plotly package's licence (plotly.js, bundled in it, is MIT too: its header)."""
    distribution = metadata.distribution("plotly")
    text = distribution.read_text("licenses/LICENSE.txt") or distribution.read_text("LICENSE.txt")
    return Response(
        text or "MIT licence: https://github.com/plotly/plotly.js/blob/master/LICENSE",
        media_type="text/plain; charset=utf-8", headers={"Cache-Control": FOREVER},
    )  # fmt: skip


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    path = STATIC / name
    if name not in STATIC_FILES:
        raise NotFound(f"no file {name!r}", field="name")
    return FileResponse(
        path, media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


STATIC_FILES = {"dashboard.js": "text/javascript; charset=utf-8",
                "dashboard.css": "text/css; charset=utf-8"}  # fmt: skip

__all__ = ["router"]
