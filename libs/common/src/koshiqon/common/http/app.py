"""The one app factory of every service: `create_app`.

A service's bootstrap writes::

    def build_app(settings: ServiceSettings) -> FastAPI:
        return create_app(
            expect_settings(settings, QuotaSettings),  # the wrong kind: TypeError
            title="Koshi-qon quota", version=__version__, routers=[api.router],
            migrations=MIGRATIONS, bus=sql_bus,  # app.state.bus = sql_bus(engine)
        )

The app owns the process's one engine (`app.state.engine`, and `app.state.sessions` over it
for the idempotency layer), opened and closed with the app; `state` puts what the service
needs on `app.state` beyond its bus. `/readyz` checks the database, the brokers and the
service's migrations.

What every app gets: RFC 9457 problem handlers; `app.state.token_verifier`; correlation id
and trace context (`correlation.py`); `Idempotency-Key` on POST (the `idempotency` package,
docs/idempotency.md); request latency by route *template*; `/livez`, `/readyz`, `/metrics`;
`/asyncapi.json`, the AsyncAPI document of the service's own topic (`asyncapi.py`);
OpenAPI 3.1 at `/openapi.json` with Swagger UI at `/docs` and ReDoc at `/redoc`, their
assets served from `/static/docs` (the files fastapi-offline ships), so the docs work with
no network.

The middleware is plain ASGI, outermost first: correlation → metrics → error boundary →
body limit (`body_limit.py`: 413 past `http_max_body_bytes`) → idempotency → (FastAPI's
exception handlers → routes). The error boundary renders an
unhandled exception with the app's `Exception` handler (a 500 problem, logged with its
traceback) *inside* the correlation and metrics layers, so the 500 carries the correlation
id, is logged under it and is counted; the exception is not re-raised to the server, which
would log it a second time.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi_offline
import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import HTMLResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koshiqon.common.auth.verifier import TokenVerifier
from koshiqon.common.database.engine import service_engine, session_factory
from koshiqon.common.health import ReadinessCheck, run_checks, service_checks
from koshiqon.common.http.asyncapi import asyncapi_router
from koshiqon.common.http.body_limit import BodyLimit
from koshiqon.common.http.correlation import CorrelationMiddleware
from koshiqon.common.http.idempotency import IdempotencyMiddleware, idempotency_openapi
from koshiqon.common.http.problems import (
    install_problem_handlers,
    problem_openapi,
    problem_response,
)
from koshiqon.common.metrics import HTTP_REQUEST_SECONDS
from koshiqon.common.settings import ServiceSettings

log = logging.getLogger("koshiqon.http")

# what a service puts on `app.state` (its message bus...), opened and closed with the app
StateSetup = Callable[[FastAPI, AsyncEngine], AbstractAsyncContextManager[None]]
ExceptionHandler = Callable[[Request, Exception], Response | Awaitable[Response]]

DOCS_STATIC = "/static/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NO_STORE = {"Cache-Control": "no-store"}


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str,
    routers: Sequence[APIRouter],
    migrations: Path | None = None,
    bus: Callable[[AsyncEngine], object] | None = None,
    state: StateSetup | None = None,
    readiness: Sequence[ReadinessCheck] | None = None,
) -> FastAPI:
    """A service's FastAPI app (see the module doc). `migrations` is the service's Alembic
    folder, checked by `/readyz`; `bus(engine)` is the message bus its routes use
    (`app.state.bus`); `state` opens and closes anything else with the app; `readiness`
    replaces the default checks (tests)."""
    engine = service_engine(settings, role="api")
    app = FastAPI(  # FastAPI's OpenTelemetry hooks are off: metrics and trace context are ours
        title=title,
        version=version,
        lifespan=_lifespan(engine, state),
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=OAUTH2_REDIRECT,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    if bus is not None:
        app.state.bus = bus(engine)  # no I/O: the bus only holds the engine
    app.state.token_verifier = TokenVerifier(settings.auth)
    app.state.readiness = tuple(
        readiness if readiness is not None else _readiness(settings, engine, migrations)
    )
    for router in (*routers, _operations_router()):
        _add_routes(app, router)
    if (events := asyncapi_router(settings.service_name)) is not None:
        _add_routes(app, events)  # /asyncapi.json of the service's own topic (http/asyncapi.py)
    _add_docs(app)
    _problem_details_in_openapi(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimit, max_bytes=settings.http_max_body_bytes)
    app.add_middleware(ErrorBoundary, handler=app.exception_handlers[Exception])
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(CorrelationMiddleware)
    return app


def _readiness(
    settings: ServiceSettings, engine: AsyncEngine, migrations: Path | None
) -> list[ReadinessCheck]:
    return service_checks(
        engine,
        bootstrap=settings.kafka_bootstrap_servers,
        schema=settings.db_schema,
        migrations=migrations,
    )


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, served from the app's own route table.

    `app.include_router` would put them behind an included-router node, which FastAPI 0.165
    matches twice on every request (once to pick the node, once more inside it to pick the
    route): about a fifth of the framework's CPU on a request. A router's own prefix, tags,
    responses and dependencies are already part of each route it made, and services include
    their routers with no options, so adding the routes themselves serves and documents them
    the same. What it does not carry is `app.dependency_overrides`, which the project does
    not use: tests pass fakes through `bootstrap` (docs/new-service.md: fakes, not mocks)."""
    app.router.routes.extend(router.routes)


def _lifespan(
    engine: AsyncEngine, state: StateSetup | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("http.app-starting", extra={"app": app.title, "version": app.version})
        try:
            if state is None:
                yield
            else:
                async with state(app, engine):
                    yield
        finally:
            await engine.dispose()
            log.info("http.app-stopped", extra={"app": app.title})

    return lifespan


def _problem_details_in_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_openapi(idempotency_openapi(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# --- /livez, /readyz, /metrics -------------------------------------------------------------


def _operations_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/livez", livez, methods=["GET"])
    router.add_api_route("/readyz", readyz, methods=["GET"])
    router.add_api_route("/metrics", metrics, methods=["GET"])
    return router


async def livez() -> Response:
    """200 while the event loop runs: it depends on nothing outside the process."""
    return Response(b'{"status":"alive"}', media_type="application/json", headers=_NO_STORE)


async def readyz(request: Request) -> Response:
    """200 with every check's result, or 503 problem+json naming the failing ones."""
    readiness = await run_checks(request.app.state.readiness)
    checks = {name: reason or "ok" for name, reason in readiness.results.items()}
    if readiness.ready:
        body = orjson.dumps({"status": "ready", "checks": checks})
        return Response(body, media_type="application/json", headers=_NO_STORE)
    return problem_response(
        503,
        title="Not ready",
        detail=f"failing checks: {', '.join(readiness.failing)}",
        code="not-ready",
        instance=request.url.path,
        extra={"checks": checks, "failing": readiness.failing},
        headers=_NO_STORE,
    )


async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


# --- docs with local assets ----------------------------------------------------------------


def docs_assets_dir() -> Path:
    """Swagger UI and ReDoc bundles shipped inside the fastapi-offline package."""
    directory = Path(fastapi_offline.__file__).parent / "static"
    if not (directory / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"the docs assets are missing from {directory}")
    return directory


def _add_docs(app: FastAPI) -> None:
    app.mount(DOCS_STATIC, StaticFiles(directory=docs_assets_dir()), name="docs-static")
    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT, swagger_redirect, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)


async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    app: FastAPI = request.app
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
        swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


async def swagger_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    app: FastAPI = request.app
    return get_redoc_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        with_google_fonts=False,
    )


# --- middleware ----------------------------------------------------------------------------


class ErrorBoundary:
    """Turns an unhandled exception into the app's 500 problem response (see module doc).
    Once a response has started there is nothing left to send: the exception goes on."""

    def __init__(self, app: ASGIApp, *, handler: ExceptionHandler) -> None:
        self.app = app
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise
            response = self._handler(Request(scope, receive), error)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)


class MetricsMiddleware:
    """Observes `HTTP_REQUEST_SECONDS` by service, method, route template and status. The
    template (`/persons/{person_id}`), never the raw path, keeps the label set bounded;
    requests no route matches share the label `unmatched`."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self._service = service
        self._templates: RouteTemplates | None = None
        self._by_labels: dict[tuple[str, str, int], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def status_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self._series(method, self._route_template(scope), status).observe(
                time.perf_counter() - started
            )

    def _series(self, method: str, route: str, status: int) -> Histogram:
        """The labelled histogram, looked up once per label set (`labels()` takes a lock
        and builds its key on every call). The set is bounded: methods, templates, codes."""
        key = (method, route, status)
        series = self._by_labels.get(key)
        if series is None:
            series = HTTP_REQUEST_SECONDS.labels(self._service, method, route, str(status))
            self._by_labels[key] = series
        return series

    def _route_template(self, scope: Scope) -> str:
        if self._templates is None:
            self._templates = RouteTemplates.of(scope["app"])
        return self._templates.template(scope)


@dataclass(frozen=True)
class _Template:
    template: str
    regex: re.Pattern[str]


class RouteTemplates:
    """Full path templates of an app's routes, prefixes of included routers and mounts
    included. The router leaves the matched route in `scope["route"]`, but a route of an
    included router keeps its own path there, without the prefixes; so the full template is
    looked up by that route object, and by the path where it is ambiguous (one router
    included twice) or absent (a replayed idempotent response never reaches the router)."""

    def __init__(self, by_route: dict[int, list[_Template]]) -> None:
        self._by_route = by_route
        self._all = [t for templates in by_route.values() for t in templates]

    @classmethod
    def of(cls, app: Any) -> RouteTemplates:
        by_route: dict[int, list[_Template]] = {}
        for context in iter_route_contexts(app.routes):
            template = context.path_format
            if template is not None:
                regex = compile_path(template)[0]
                by_route.setdefault(id(context.original_route), []).append(
                    _Template(template, regex)
                )
        return cls(by_route)

    def template(self, scope: Scope) -> str:
        route = scope.get("route")
        candidates = self._by_route.get(id(route), []) if route is not None else []
        if len(candidates) == 1:
            return candidates[0].template
        path = _route_path(scope)
        for candidate in candidates or self._all:
            if candidate.regex.match(path):
                return candidate.template
        return UNMATCHED_ROUTE


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
