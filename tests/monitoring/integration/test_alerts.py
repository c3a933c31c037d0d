"""The §8 alert on the real Kafka and PostgreSQL: raised once when a region's net departures
exceed its natural increase (for the calendar year and the rolling twelve months), not
again on redelivery, cleared once when the figures change, published through the outbox to
monitoring.v1; a rebuild publishes none a second time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from monitoring.helpers import NORTH_KAZ, Clock, token
from monitoring.streams import Topics, emigrated, fresh_topics, handled, produce, running_worker
from sqlalchemy import text
from support.kafka import read_topic, wait_for
from support.services import ServiceSchema

from koshiqon.common.events.envelope import Envelope
from koshiqon.monitoring.adapters.rebuild import rebuild
from koshiqon.monitoring.bus import Bus
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain import commands as c

pytestmark = pytest.mark.integration

READ = token("monitoring:read")


@pytest.fixture
async def topics(bootstrap: str) -> Topics:
    return await fresh_topics(bootstrap)


@pytest.fixture
def group() -> str:
    return f"monitoring-alert-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def worker(
    schema: ServiceSchema, topics: Topics, group: str, clock: Clock, bootstrap: str
) -> AsyncIterator[MonitoringSettings]:
    settings = MonitoringSettings(
        database_url=schema.dsn, database_schema=schema.schema, environment="test",
        topics=topics.all, kafka_bootstrap_servers=bootstrap, outbox_poll_seconds=0.2,
    )  # fmt: skip
    async with running_worker(settings, now=clock, group=group):
        yield settings


async def vital(client: httpx.AsyncClient, rows: list[dict[str, object]], **query: str) -> None:
    response = await client.post(
        "/v1/statistics/vital", params=query, json={"source": "akimat", "rows": rows},
        headers=token(),
    )  # fmt: skip
    assert response.status_code == 200, response.text


def months() -> list[dict[str, object]]:
    """Births and deaths for each month of the rolling window of 15 March 2024: a natural
    decrease of 5."""
    periods = [f"2023-{m:02d}" for m in range(3, 13)] + ["2024-01", "2024-02"]
    return [{"kato": NORTH_KAZ, "period": p, "births": 10, "deaths": 15 if p == "2023-06" else 10}
            for p in periods]  # fmt: skip


async def departures(bootstrap: str, topics: Topics, schema: ServiceSchema, n: int) -> None:
    events = [emigrated(uuid.uuid4(), NORTH_KAZ) for _ in range(n)]
    await produce(bootstrap, topics.registration, events + events)  # each delivered twice
    await wait_for(handled(schema, events), timeout=60)


async def published(schema: ServiceSchema) -> list[tuple[str, str]]:
    async with schema.engine.connect() as connection:
        result = await connection.execute(text("SELECT key, event_type FROM outbox ORDER BY id"))
        return [(r.key, r.event_type.split(".")[-2]) for r in result.all()]


async def test_raised_once_and_cleared_once(
    worker: MonitoringSettings, topics: Topics, schema: ServiceSchema, bootstrap: str,
    client: httpx.AsyncClient, bus: Bus, group: str,
) -> None:  # fmt: skip
    await vital(client, [{"kato": NORTH_KAZ, "period": "2024", "births": 5000, "deaths": 4990}])
    await vital(client, months())
    await departures(bootstrap, topics, schema, 10)  # net departures 10 = natural increase 10
    kinds = [name for _, name in await published(schema)]
    assert kinds == ["outflow-alert-raised"]  # the rolling twelve months only: -5 < 10
    await departures(bootstrap, topics, schema, 1)  # 11 > 10: the year's alert
    active = (await client.get(f"/v1/alerts?region={NORTH_KAZ}&active=true", headers=READ)).json()
    by_period = {a["period"]: a for a in active["items"]}
    assert set(by_period) == {"year", "rolling_12_months"}
    year = by_period["year"]
    assert (year["period_from"], year["period_to"]) == ("2024-01-01", "2024-12-31")
    assert year["figures"]["net_departures"] == 11
    assert year["figures"]["natural_increase"] == 10
    assert year["figures"]["departures_external"] == 11
    await vital(
        client, [{"kato": NORTH_KAZ, "period": "2024", "births": 5100, "deaths": 4990}],
        replace="true",
    )  # fmt: skip
    cleared = await client.get(f"/v1/alerts?active=false&region={NORTH_KAZ}", headers=READ)
    [gone] = cleared.json()["items"]
    assert gone["alert_id"] == year["alert_id"]
    assert gone["cleared_figures"]["natural_increase"] == 110
    expected = sorted([
        (by_period["rolling_12_months"]["alert_id"], "outflow-alert-raised"),
        (year["alert_id"], "outflow-alert-raised"), (year["alert_id"], "outflow-alert-cleared"),
    ])  # fmt: skip
    assert sorted(await published(schema)) == expected
    # a rebuild and the rule run again publish nothing more
    await rebuild(schema.engine, bootstrap=bootstrap, topics=topics.all, group=group)
    assert await bus.handle(c.EvaluateOutflow(actor=c.WORKER)) == 0
    assert sorted(await published(schema)) == expected
    ids = {alert_id for alert_id, _ in expected}

    async def on_the_topic() -> bool:
        found = [
            Envelope.from_bytes(r.value)
            for r in await read_topic(bootstrap, "monitoring.v1", at_least=0, settle=0.3)
            if r.key is not None and r.key.decode() in ids
        ]
        return sorted((e.subject, e.name) for e in found) == expected

    await wait_for(on_the_topic, timeout=30, interval=0.5)
