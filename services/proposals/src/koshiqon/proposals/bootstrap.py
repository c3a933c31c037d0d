"""The composition root of the proposals service: `bootstrap` wires the message bus (tests
pass a fake unit of work, their clock and evidence source here), `build_app` the API
process around it, `build_worker` the worker's components; the one place where real
adapters are chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from koshiqon.common.consumer import ConsumerRunner
from koshiqon.common.database.engine import session_factory
from koshiqon.common.errors import DomainError
from koshiqon.common.http.app import create_app
from koshiqon.common.http.client_auth import ClientCredentials
from koshiqon.common.http.problems import problem_response
from koshiqon.common.messagebus import MessageBus
from koshiqon.common.migrations import script_location
from koshiqon.common.service import (
    consumer_config,
    expect_settings,
    idempotency_housekeeping,
    outbox_relay,
    service_engine,
    worker_checks,
)
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Worker
from koshiqon.proposals import __version__
from koshiqon.proposals.adapters.monitoring import EvidenceSource, MonitoringClient
from koshiqon.proposals.bus import Bus, Deps, Policy, utc_now
from koshiqon.proposals.config import ProposalsSettings
from koshiqon.proposals.domain.errors import StaleVersion, VersionRequired
from koshiqon.proposals.entrypoints import api
from koshiqon.proposals.entrypoints.consumer import GROUP, subscription
from koshiqon.proposals.entrypoints.scheduler import follow_up
from koshiqon.proposals.handlers import COMMAND_HANDLERS
from koshiqon.proposals.unit_of_work import SqlUnitOfWork, UnitOfWork

MIGRATIONS = script_location(__file__)

Clock = Callable[[], datetime]
DEFAULT_POLICY = Policy()


def bootstrap(
    uow: Callable[[], UnitOfWork],
    *,
    evidence: EvidenceSource,
    now: Clock = utc_now,
    policy: Policy = DEFAULT_POLICY,
) -> Bus:
    """The bus: each command's handler with a new unit of work from `uow` per call."""
    deps = Deps(uow=uow, now=now, evidence=evidence, policy=policy)
    return MessageBus(deps, commands=COMMAND_HANDLERS)


def sql_bus(
    engine: AsyncEngine,
    *,
    evidence: EvidenceSource,
    now: Clock = utc_now,
    policy: Policy = DEFAULT_POLICY,
) -> Bus:
    return bootstrap(lambda: SqlUnitOfWork(engine), evidence=evidence, now=now, policy=policy)


def policy_of(settings: ProposalsSettings) -> Policy:
    return Policy(
        review_deadline=timedelta(days=settings.review_deadline_days),
        stuck_after=timedelta(seconds=settings.stuck_after_seconds),
    )


def monitoring_client(settings: ProposalsSettings) -> MonitoringClient:
    """The evidence source: its token from the client-credentials grant when a token URL is
    set, else the fixed token (development), else none."""
    token = settings.monitoring_token
    headers = {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}
    auth = None
    if settings.monitoring_token_url is not None:
        assert settings.monitoring_client_id is not None
        assert settings.monitoring_client_secret is not None
        auth = ClientCredentials(
            settings.monitoring_token_url,
            client_id=settings.monitoring_client_id,
            client_secret=settings.monitoring_client_secret.get_secret_value(),
            scopes=["monitoring:read"],
        )
    return MonitoringClient(
        settings.monitoring_url,
        timeout=settings.evidence_timeout_seconds,
        retries=settings.evidence_retries,
        backoff=settings.evidence_backoff_seconds,
        headers=headers,
        auth=auth,
    )


def build_app(settings: ServiceSettings, *, now: Clock = utc_now) -> FastAPI:
    """The API: the routes, with the bus over the app's one engine on `app.state.bus`, the
    monitoring client opened and closed with the app."""
    own = expect_settings(settings, ProposalsSettings)
    monitoring = monitoring_client(own)

    @asynccontextmanager
    async def state(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await monitoring.aclose()

    app = create_app(
        own,
        title="Koshi-qon proposals",
        version=__version__,
        routers=[api.router],
        migrations=MIGRATIONS,
        bus=lambda engine: sql_bus(engine, evidence=monitoring, now=now, policy=policy_of(own)),
        state=state,
    )
    app.add_exception_handler(StaleVersion, _precondition(412, "Precondition failed"))
    app.add_exception_handler(VersionRequired, _precondition(428, "Precondition required"))
    return app


def _precondition(status: int, title: str) -> Callable[[Request, Exception], Response]:
    """412 for a stale `If-Match`, 428 for none (the domain's two version refusals)."""

    def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        extra = {**exc.extra, "errors": [{"field": "If-Match", "message": exc.detail}]}
        return problem_response(
            status,
            title=title,
            detail=exc.detail,
            code=exc.code,
            instance=request.url.path,
            extra=extra,
        )

    return handle


@asynccontextmanager
async def build_worker(
    settings: ServiceSettings, *, now: Clock = utc_now, group: str = GROUP
) -> AsyncIterator[Worker]:
    """The outbox relay, the consumer of quota.v1 and monitoring.v1 (group `group`), the
    follow-up job (pending evidence, stuck approvals) and the idempotency housekeeping, with
    the worker's readiness checks."""
    own = expect_settings(settings, ProposalsSettings)
    engine = service_engine(own, role="worker")
    monitoring = monitoring_client(own)
    policy = policy_of(own)
    consumer = ConsumerRunner(
        subscription(now=now, evidence=monitoring, policy=policy, group=group),
        session_factory(engine),
        consumer_config(own),
    )
    bus = sql_bus(engine, evidence=monitoring, now=now, policy=policy)
    try:
        yield Worker(
            [
                outbox_relay(own).run,
                consumer.run,
                follow_up(bus, own),
                idempotency_housekeeping(engine),
            ],
            checks=worker_checks(own, engine, MIGRATIONS, consumer),
        )
    finally:
        await monitoring.aclose()
        await engine.dispose()


__all__ = ["MIGRATIONS", "bootstrap", "build_app", "build_worker", "policy_of", "sql_bus"]
