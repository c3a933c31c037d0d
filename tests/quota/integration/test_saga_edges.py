"""The edges of the resettlement saga on quota's side, on the real PostgreSQL with the real
migrations: a completion after its reservation expired (issue 12 item 14), reservations
expiring at midnight in Kazakhstan and an order for an ended year recorded as history
(item 15)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from quota.helpers import PAVLODAR, Clock, token
from quota.integration.test_ledger import events, kandas_quota, reserve
from support.services import ServiceSchema

from koshiqon.common.events import registration
from koshiqon.common.events.envelope import Envelope
from koshiqon.quota import queries
from koshiqon.quota.bus import Bus
from koshiqon.quota.entrypoints.scheduler import ExpiryScheduler
from koshiqon.quota.handlers import EVENT_HANDLERS

pytestmark = pytest.mark.integration

NEW_YEAR_IN_KAZAKHSTAN = datetime(2026, 12, 31, 19, 30, tzinfo=UTC)  # 00:30 on 1 January 2027
ADMIN = token()
ORDER = b"year,kind,kato,region,persons\n2026,kandas,550000000,Pavlodar,40\n"


async def last_event(schema: ServiceSchema, application_id: uuid.UUID) -> Envelope:
    value = await schema.scalar(
        "SELECT value FROM outbox WHERE key = :k ORDER BY id DESC LIMIT 1", k=str(application_id)
    )
    assert isinstance(value, bytes)
    return Envelope.from_bytes(value)


async def test_a_completion_after_the_expiry_consumes_nothing_and_is_published(
    bus: Bus, schema: ServiceSchema, clock: Clock
) -> None:
    quota = await kandas_quota(bus, 10)
    reservation = await bus.handle(reserve(4))
    clock.now = NEW_YEAR_IN_KAZAKHSTAN
    assert await ExpiryScheduler(bus).run_once() == 1
    completed = registration.ResettlementCompleted(
        application_id=reservation.application_id, applicant_id=uuid.uuid4(),
        category=registration.ResettlementCategory.KANDAS, target_region=PAVLODAR,
        target_year=2026, persons=4, settlement="551010000", completed_on=date(2026, 12, 30),
    )  # fmt: skip

    await EVENT_HANDLERS[registration.ResettlementCompleted](completed, bus.deps)

    q = await queries.get_quota(schema.engine, quota.id)
    assert (q.reserved, q.consumed) == (0, 0)
    refused = await last_event(schema, reservation.application_id)
    assert refused.name == "quota-consumption-refused"
    assert (refused.data["status"], refused.data["reason"], refused.data["persons"]) == (
        "expired",
        "period_ended",
        4,
    )
    assert await events(schema, "quota-consumed") == 0


async def test_reservations_expire_at_midnight_in_kazakhstan_not_utc(
    bus: Bus, schema: ServiceSchema, clock: Clock
) -> None:
    await kandas_quota(bus, 10)
    await bus.handle(reserve(2))
    scheduler = ExpiryScheduler(bus)
    clock.now = NEW_YEAR_IN_KAZAKHSTAN - timedelta(hours=1)  # 23:30 on 31 December there
    assert await scheduler.run_once() == 0
    clock.now = NEW_YEAR_IN_KAZAKHSTAN  # 19:30 on 31 December in UTC
    assert await scheduler.run_once() == 1
    assert await events(schema, "quota-expired") == 1


async def post_order(client: httpx.AsyncClient, name: str) -> httpx.Response:
    return await client.post(
        "/v1/quota-orders", params={"order": name}, content=ORDER,
        headers=ADMIN | {"Content-Type": "text/csv"},
    )  # fmt: skip


async def test_an_order_for_an_ended_year_is_recorded_closed(
    client: httpx.AsyncClient, schema: ServiceSchema, clock: Clock
) -> None:
    clock.now = NEW_YEAR_IN_KAZAKHSTAN
    imported = await post_order(client, "order 2026")
    assert imported.status_code == 201, imported.text
    (created,) = imported.json()["quotas"]
    assert imported.json()["territories"] == []
    read = await client.get(f"/v1/quotas/{created['id']}", headers=ADMIN)
    assert read.json()["status"] == "closed"
    established = await schema.scalar(
        "SELECT value FROM outbox WHERE key = :k", k=str(created["id"])
    )
    assert isinstance(established, bytes)
    assert Envelope.from_bytes(established).data["closed"] is True

    body = {"application_id": str(uuid.uuid4()), "kind": "kandas", "region": PAVLODAR,
            "year": 2026, "persons": 1}  # fmt: skip
    reserved = await client.post("/v1/reservations", json=body, headers=ADMIN)
    assert reserved.status_code in (200, 201), reserved.text
    assert (reserved.json()["outcome"], reserved.json()["denial_reason"]) == (
        "denied",
        "no_quota",
    )
    again = await post_order(client, "order 2026, again")
    assert again.status_code == 422, again.text
    assert [row["line"] for row in again.json()["rows"]] == [2]
    assert await schema.scalar("SELECT count(*) FROM quotas") == 1
