"""Applications left pending_quota are asked again (issue 12 item 12), on the real
PostgreSQL: the worker's job re-publishes `resettlement-requested` through the outbox, at most
its cap per run, the longest pending first, again after each interval while still pending.
This module's schema holds only its own applications (the `service` fixture is per module)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from koshiqon.common.events.envelope import Envelope
from koshiqon.registration.bootstrap import bootstrap
from koshiqon.registration.entrypoints.scheduler import PendingQuotaScheduler
from koshiqon.registration.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def apply(service: Any) -> str:
    applicant = await service.person()
    response = await service.client.post(
        "/v1/resettlement-applications",
        headers=service.auth(),
        json={"applicant_id": applicant, "category": "migrant",
              "target_region": "590000000", "target_year": 2026},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def requests_of(service: Any, application: str) -> int:
    types = await service.outbox_types(application)
    return sum(1 for t in types if t == "resettlement-requested")


async def test_pending_applications_are_asked_again_through_the_outbox(service: Any) -> None:
    apps = [await apply(service) for _ in range(3)]
    withdrawn = await apply(service)
    answer = await service.client.post(
        f"/v1/resettlement-applications/{withdrawn}/withdraw", headers=service.auth()
    )
    assert answer.json()["status"] == "withdrawn"
    clock = Clock(datetime.now(UTC) + 2 * HOUR)
    bus = bootstrap(lambda: SqlUnitOfWork(service.schema.engine), now=clock)
    scheduler = PendingQuotaScheduler(bus, pending_for=HOUR, batch_size=2)
    counted = REGISTRY.get_sample_value("koshiqon_registration_quota_requested_again_total")

    assert [await scheduler.run_once() for _ in range(3)] == [2, 1, 0]
    assert [await requests_of(service, app) for app in apps] == [2, 2, 2]
    assert await requests_of(service, withdrawn) == 1  # only what is pending is asked

    clock.now += HOUR - timedelta(seconds=1)
    assert await scheduler.run_once() == 0  # asked less than an hour ago
    clock.now += timedelta(seconds=1)
    assert [await scheduler.run_once() for _ in range(3)] == [2, 1, 0]
    assert [await requests_of(service, app) for app in apps] == [3, 3, 3]
    stored = await service.schema.scalar(
        "SELECT array_agg(quota_requests ORDER BY quota_requests) FROM resettlement_applications"
    )
    assert stored == [1, 3, 3, 3]
    after = REGISTRY.get_sample_value("koshiqon_registration_quota_requested_again_total")
    assert after == (counted or 0) + 6
    application = await service.client.get(
        f"/v1/resettlement-applications/{apps[0]}", headers=service.auth()
    )
    assert application.json()["status"] == "pending_quota"


async def test_the_repeated_request_is_the_first_one(service: Any) -> None:
    app = await apply(service)
    clock = Clock(datetime.now(UTC) + 2 * HOUR)
    bus = bootstrap(lambda: SqlUnitOfWork(service.schema.engine), now=clock)
    await PendingQuotaScheduler(bus, pending_for=HOUR, batch_size=100).run_once()
    async with service.schema.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT value FROM outbox WHERE key = :k ORDER BY id"), {"k": app}
        )
        first, repeated = [Envelope.from_bytes(row[0]) for row in rows]
    assert first.type == repeated.type
    assert first.id != repeated.id  # a new event: quota's consumer handles it
    # the same application id, persons, year, requested_at; marked a repeat (counted once)
    assert (first.data["repeat"], repeated.data["repeat"]) == (False, True)
    assert first.data == {**repeated.data, "repeat": False}
    assert uuid.UUID(first.data["application_id"]) == uuid.UUID(app)
