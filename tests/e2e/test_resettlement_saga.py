"""The resettlement saga across the real services: registration and quota each run as their
own process (`koshiqon-<service> all`, api and worker) on their own schema, talking only
through Kafka, as they would in production.

A migrant applies to resettle into North Kazakhstan under the 2026 quota order; the quota
service reserves, the application is approved; the applicant registers permanently there,
the application completes and the quota service consumes the reservation. And an outcome
lost on the way heals: registration asks again for an application left pending_quota, and
quota answers the repeated request with its first outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from sqlalchemy import text
from support.kafka import wait_for
from support.reference import quota_order_2026
from support.services import ServiceSchema, migrated_schema

from koshiqon.common.topics import CONTEXT_TOPICS
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.quota.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from koshiqon.quota.entrypoints.consumer import GROUP as QUOTA_GROUP
from koshiqon.quota.entrypoints.consumer import TOPICS as QUOTA_TOPICS
from koshiqon.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS
from koshiqon.registration.entrypoints.consumer import GROUP as REGISTRATION_GROUP
from koshiqon.registration.entrypoints.consumer import TOPICS as REGISTRATION_TOPICS

pytestmark = pytest.mark.integration

QUOTA_ORDER = quota_order_2026()
NORTH_KAZAKHSTAN = "590000000"
PETROPAVL = "591010000"  # a settlement code within the region


@asynccontextmanager
async def service(
    name: str, schema: ServiceSchema, port: int, **settings: str
) -> AsyncIterator[httpx.AsyncClient]:
    prefix = name.upper()
    env = {
        **os.environ,
        f"{prefix}_DATABASE_URL": schema.dsn,
        f"{prefix}_DATABASE_SCHEMA": schema.schema,
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_LOG_LEVEL": "WARNING",
        **{f"{prefix}_{key.upper()}": value for key, value in settings.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"koshiqon.{name}.entrypoints.cli", "all", env=env
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        try:
            await wait_for(lambda: _ready(client), timeout=60)
            yield client
        finally:
            process.terminate()
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def _skip_backlog(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Commit `group`'s offsets at the end of `topics`: the services run under their real
    groups on the shared topics, so events other runs left there (other tests, benches)
    would otherwise be handled first, into this run's schemas. Skipped while the group has
    members (another run's services: the broker refuses the commit)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        counts = {t.name: t.partitions for t in CONTEXT_TOPICS}
        partitions = [TopicPartition(t, p) for t in topics for p in range(counts[t])]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        with contextlib.suppress(KafkaError):
            await consumer.commit(ends)
    finally:
        await consumer.stop()


def bearer(*scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(scopes=scopes, agency='e2e')}"}


@pytest.fixture
async def schemas(
    admin_database_url: str, bootstrap: str
) -> AsyncIterator[tuple[ServiceSchema, ServiceSchema]]:
    await _skip_backlog(bootstrap, QUOTA_GROUP, QUOTA_TOPICS)
    await _skip_backlog(bootstrap, REGISTRATION_GROUP, REGISTRATION_TOPICS)
    async with (
        migrated_schema(admin_database_url, REGISTRATION_MIGRATIONS) as registration,
        migrated_schema(admin_database_url, QUOTA_MIGRATIONS) as quota,
    ):
        yield registration, quota


async def test_a_migrant_resettles_under_the_regional_quota(
    schemas: tuple[ServiceSchema, ServiceSchema],
) -> None:
    registration_schema, quota_schema = schemas
    ministry = bearer("quota:admin", "quota:read")
    clerk = bearer("registration:read", "registration:write")
    async with (
        service("quota", quota_schema, 18412) as quota,
        service("registration", registration_schema, 18411) as registration,
    ):
        order = await quota.post(
            "/v1/quota-orders",
            params={"order": "e2e-2026"},
            content=QUOTA_ORDER.read_bytes(),
            headers={**ministry, "content-type": "text/csv"},
        )
        assert order.status_code == 201, order.text

        person = await registration.post("/v1/persons", json=_person(), headers=clerk)
        assert person.status_code == 201, person.text
        assert "server" not in person.headers  # the server does not name its software
        person_id = person.json()["id"]
        application = await registration.post(
            "/v1/resettlement-applications",
            json={"applicant_id": person_id, "category": "migrant",
                  "target_region": NORTH_KAZAKHSTAN, "target_year": 2026},
            headers=clerk,
        )  # fmt: skip
        assert application.status_code == 201, application.text
        url = f"/v1/resettlement-applications/{application.json()['id']}"

        approved = await _status(registration, url, clerk, "approved")
        quota_url = f"/v1/quotas/{approved['quota_id']}"
        assert (await quota.get(quota_url, headers=ministry)).json()["reserved"] == 1

        residence = await registration.post(
            f"/v1/persons/{person_id}/residences",
            json={"kind": "permanent", "address": {"kato": PETROPAVL, "street": "Konstitutsii",
                  "building": "12"}, "valid_from": "2026-03-01", "arrived_from": None},
            headers=clerk,
        )  # fmt: skip
        assert residence.status_code == 201, residence.text
        await _status(registration, url, clerk, "completed")

        async def consumed() -> bool:
            body = (await quota.get(quota_url, headers=ministry)).json()
            return bool(body["consumed"] == 1 and body["reserved"] == 0)

        await wait_for(consumed, timeout=30)


async def test_an_outcome_lost_on_the_way_heals_when_registration_asks_again(
    schemas: tuple[ServiceSchema, ServiceSchema],
) -> None:
    """The application's outcome is lost (its row set back to pending_quota, as if
    quota-reserved had never reached it): registration's worker asks again after
    REGISTRATION_PENDING_QUOTA_AFTER_SECONDS, quota answers with the first outcome, and the
    application is approved on the same reservation, reserved once."""
    registration_schema, quota_schema = schemas
    ministry = bearer("quota:admin", "quota:read")
    clerk = bearer("registration:read", "registration:write")
    asking = {"pending_quota_after_seconds": "2", "pending_quota_interval_seconds": "0.5"}
    async with (
        service("quota", quota_schema, 18414) as quota,
        service("registration", registration_schema, 18413, **asking) as registration,
    ):
        order = await quota.post(
            "/v1/quota-orders",
            params={"order": "e2e-2026"},
            content=QUOTA_ORDER.read_bytes(),
            headers={**ministry, "content-type": "text/csv"},
        )
        assert order.status_code == 201, order.text
        person = await registration.post("/v1/persons", json=_person(), headers=clerk)
        assert person.status_code == 201, person.text
        application = await registration.post(
            "/v1/resettlement-applications",
            json={"applicant_id": person.json()["id"], "category": "migrant",
                  "target_region": NORTH_KAZAKHSTAN, "target_year": 2026},
            headers=clerk,
        )  # fmt: skip
        assert application.status_code == 201, application.text
        application_id = application.json()["id"]
        url = f"/v1/resettlement-applications/{application_id}"
        approved = await _status(registration, url, clerk, "approved")
        # requests asked before the approval may still be on their way: let them land first
        exchange = Exchange(registration_schema, quota_schema, application_id)
        await wait_for(exchange.quiet, timeout=60)
        asked, answered = await exchange.counts()

        await _lose_the_outcome(registration_schema, application_id)

        healed = await _status(registration, url, clerk, "approved")
        assert healed["quota_id"] == approved["quota_id"]
        body = (await quota.get(f"/v1/quotas/{approved['quota_id']}", headers=ministry)).json()
        assert body["reserved"] == 1  # the repeated requests reserved nothing more
        await wait_for(exchange.quiet, timeout=60)
        asked_after, answered_after = await exchange.counts()
        assert asked_after > asked  # asked again after the loss
        assert answered_after > answered  # and answered again


@dataclass
class Exchange:
    """One application's requests and outcomes between the two services (the topics and
    consumer groups are shared with other runs, so everything is counted by application)."""

    registration: ServiceSchema
    quota: ServiceSchema
    application_id: str

    async def counts(self) -> tuple[int, int]:
        """How many times registration asked; how many outcomes quota published for it."""
        asked = await self.registration.scalar(
            "SELECT quota_requests FROM resettlement_applications WHERE id = CAST(:id AS uuid)",
            id=self.application_id,
        )
        return int(str(asked)), len(await self._outcomes())

    async def quiet(self) -> bool:
        """Quota answered every request, and registration handled every answer."""
        asked, _ = await self.counts()
        outcomes = await self._outcomes()
        handled = await self.registration.scalar(
            "SELECT count(*) FROM processed_events WHERE event_id = ANY(CAST(:ids AS uuid[]))",
            ids=outcomes,
        )
        return asked == len(outcomes) == handled

    async def _outcomes(self) -> list[str]:
        async with self.quota.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT event_id FROM outbox WHERE key = :k AND event_type = :t"
                    " AND published_at IS NOT NULL"
                ),
                {"k": self.application_id, "t": "kz.migration.quota.quota-reserved.v1"},
            )
            return [str(row[0]) for row in rows]


async def _lose_the_outcome(schema: ServiceSchema, application_id: str) -> None:
    """Set the application back to what it was before quota-reserved reached it."""
    async with schema.engine.begin() as conn:
        changed = await conn.execute(
            text(
                "UPDATE resettlement_applications SET status = 'pending_quota', quota_id = NULL,"
                " quota_reserved_at = NULL, decided_at = NULL WHERE id = CAST(:id AS uuid)"
                " AND status = 'approved'"
            ),
            {"id": application_id},
        )
    assert changed.rowcount == 1


async def _status(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], status: str
) -> dict[str, Any]:
    body: dict[str, Any] = {}

    async def reached() -> bool:
        nonlocal body
        body = (await client.get(url, headers=headers)).json()
        return body["status"] == status

    await wait_for(reached, timeout=30)
    return body


def _person() -> dict[str, Any]:
    return {
        "legal_status": "citizen",
        "iin": "791028302728",
        "surname_latin": "Seitkali",
        "given_names_latin": "Aidos",
        "surname_cyrillic": "Сейткали",
        "given_names_cyrillic": "Айдос",
        "birth_date": "1979-10-28",
        "sex": "male",
        "citizenship": "KAZ",
    }
