"""Generated requests to every dashboard route (the pages are not in the OpenAPI document,
so schemathesis has no operations for them): any language, period, region code, table
name, sign-in target and form body, with a session and without; never a 5xx, a page
refused is an HTML page and a download refused a problem, and no request signs anyone in
without a valid token. On the real PostgreSQL with the reference figures loaded."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monitoring.helpers import token
from support.http import served
from support.reference import DATA
from support.services import migrated_schema

from koshiqon.common import kz
from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app, sql_bus
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.entrypoints.dashboard.session import SESSION_COOKIE

pytestmark = pytest.mark.integration

READ = token("monitoring:read")
BEARER = READ["Authorization"].removeprefix("Bearer ")
EXAMPLES = 60
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip

langs = st.one_of(st.sampled_from(["kk", "ru", "en"]), st.text(max_size=8))
periods = st.one_of(
    st.sampled_from(["2021", "2023", "2024-Q2", "2024-01", "2022-06"]),
    st.from_regex(r"[0-9]{4}(-Q[0-9]|-[0-9]{2})?", fullmatch=True),
    st.text(max_size=12),
)
katos = st.one_of(
    st.sampled_from([r.kato for r in kz.REGIONS]),
    st.from_regex(r"[0-9]{9}", fullmatch=True),
    st.text(min_size=1, max_size=12),
)
sheets = st.one_of(
    st.sampled_from(
        [
            "regions",
            "quotas",
            "indicators",
            "monthly",
            "counterparts",
            "quota-use",
            "forecast",
            "proposals",
            "alerts",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
optional = st.none() | st.text(max_size=40)


class Client:
    """The app over ASGI on a loop of this test's own (hypothesis runs synchronously; the
    suite's loop is pytest-asyncio's), with the app's lifespan entered on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient) -> None:
        self.loop = loop
        self.http = http

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url, **kwargs))


@pytest.fixture(scope="module")
def client(admin_database_url: str) -> Iterator[Client]:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        schema = loop.run_until_complete(
            stack.enter_async_context(migrated_schema(admin_database_url, MIGRATIONS))
        )
        loop.run_until_complete(load_reference(sql_bus(schema.engine), DATA))
        app = build_app(
            MonitoringSettings(database_url=schema.dsn, database_schema=schema.schema,
                               environment="test")
        )  # fmt: skip
        http = loop.run_until_complete(stack.enter_async_context(served(app, "http://testserver")))
        yield Client(loop, http)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


def path(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def query(**params: str | None) -> dict[str, str]:
    return {k: v for k, v in params.items() if v is not None}


def check(response: httpx.Response, *, html: bool) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400 and response.status_code not in (401, 403):
        kind = response.headers["content-type"]
        assert kind.startswith("text/html" if html else "application/problem+json"), kind


@given(lang=langs, period=st.none() | periods, session=st.booleans())
@FUZZ
def test_the_national_page(client: Client, lang: str, period: str | None, session: bool) -> None:
    cookie = {"cookie": f"{SESSION_COOKIE}={BEARER}"} if session else {}
    response = client.get(
        "/dashboard", params=query(lang=lang, period=period), headers=cookie,
        follow_redirects=False,
    )  # fmt: skip
    check(response, html=True)
    assert response.status_code in ((200, 422) if session else (303,))


@given(kato=katos, lang=langs, period=st.none() | periods)
@FUZZ
def test_a_region_page(client: Client, kato: str, lang: str, period: str | None) -> None:
    response = client.get(
        f"/dashboard/regions/{path(kato)}", params=query(lang=lang, period=period), headers=READ,
        follow_redirects=False,
    )  # fmt: skip
    check(response, html=True)
    if kz.is_region_code(kato) and period in (None, "2023", "2024-Q2"):
        assert response.status_code == 200


@given(kato=st.none() | katos, sheet=sheets, lang=langs, period=st.none() | periods)
@FUZZ
def test_a_table_download(
    client: Client, kato: str | None, sheet: str, lang: str, period: str | None
) -> None:
    base = "/dashboard" if kato is None else f"/dashboard/regions/{path(kato)}"
    response = client.get(
        f"{base}/tables/{path(sheet)}.csv", params=query(lang=lang, period=period), headers=READ,
        follow_redirects=False,
    )  # fmt: skip
    check(response, html=False)
    if response.status_code == 200:
        assert response.headers["content-type"].startswith("text/csv")


@given(target=optional, error=optional, lang=langs)
@FUZZ
def test_the_sign_in_form(client: Client, target: str | None, error: str | None, lang: str) -> None:
    response = client.get("/dashboard/login", params=query(next=target, error=error, lang=lang))
    check(response, html=True)
    assert response.status_code == 200
    assert 'name="next" value="/dashboard' in response.text  # never a target off the site


@given(
    fields=st.dictionaries(
        st.sampled_from(["token", "next", "lang", "x"]), st.text(max_size=60), max_size=4
    ),
    raw=st.none() | st.binary(max_size=200),
    kind=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
            "application/json",
        ]
    ),
    origin=st.none() | st.sampled_from(["http://testserver", "https://elsewhere", "null"]),
    route=st.sampled_from(["/dashboard/login", "/dashboard/logout"]),
)
@FUZZ
def test_posted_forms(
    client: Client, fields: dict[str, str], raw: bytes | None, kind: str, origin: str | None,
    route: str,
) -> None:  # fmt: skip
    body = raw if raw is not None else urllib.parse.urlencode(fields).encode()
    headers = {"content-type": kind, **({"origin": origin} if origin else {})}
    response = client.post(route, content=body, headers=headers, follow_redirects=False)
    check(response, html=True)
    if route.endswith("login"):
        assert "set-cookie" not in response.headers  # no field here is a valid token
