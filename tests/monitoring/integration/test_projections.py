"""The projections from scripted event streams on the real Kafka (each test on topics of
its own), with every event delivered twice and a quota's events out of order across
partitions; then `rebuild`: the rebuilt tables identical, row for row, to the incremental
ones, an event published during the rebuild in both, and the live consumer going on into
the new tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from monitoring.helpers import ASTANA, NORTH_KAZ, PAVLODAR, Clock, token
from monitoring.streams import (
    Topics,
    emigrated,
    fresh_topics,
    handled,
    immigrated,
    moved,
    produce,
    proposal_events,
    quota_events,
    registered,
    resettlement,
    running_worker,
    stay,
)
from sqlalchemy import text
from support.kafka import wait_for
from support.services import ServiceSchema

from koshiqon.common.events.envelope import Envelope
from koshiqon.monitoring.adapters.rebuild import rebuild
from koshiqon.monitoring.adapters.tables import PROJECTION_TABLES
from koshiqon.monitoring.config import MonitoringSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def topics(bootstrap: str) -> Topics:
    return await fresh_topics(bootstrap)


@pytest.fixture
def group() -> str:
    return f"monitoring-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def worker(
    schema: ServiceSchema, topics: Topics, group: str, clock: Clock, bootstrap: str
) -> AsyncIterator[MonitoringSettings]:
    settings = MonitoringSettings(
        database_url=schema.dsn, database_schema=schema.schema, environment="test",
        topics=topics.all, kafka_bootstrap_servers=bootstrap,
    )  # fmt: skip
    async with running_worker(settings, now=clock, group=group):
        yield settings


async def rows(schema: ServiceSchema, table: str) -> list[tuple[object, ...]]:
    async with schema.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM p_{table}"))
        return sorted(tuple(r) for r in result.all())


async def snapshot(schema: ServiceSchema) -> dict[str, list[tuple[object, ...]]]:
    return {table: await rows(schema, table) for table in PROJECTION_TABLES}


async def publish_script(bootstrap: str, topics: Topics, schema: ServiceSchema) -> None:
    kandas, unknown, leaver, worker_ = (uuid.uuid4() for _ in range(4))
    app, quota = uuid.uuid4(), uuid.uuid4()
    registration: list[Envelope] = [
        registered(kandas, kandas=True), immigrated(kandas, NORTH_KAZ),
        moved(unknown, NORTH_KAZ, ASTANA),  # no person-registered: kandas status unknown
        emigrated(leaver, NORTH_KAZ, kandas=False),  # the event says
        stay(worker_, PAVLODAR), *resettlement(app, PAVLODAR, 4),
    ]  # fmt: skip
    ledger = quota_events(quota, app, PAVLODAR)
    # consumed before reserved, and the adjusted limit before the establishing one
    quotas = [ledger["consumed"], ledger["reserved"], ledger["adjusted"], ledger["established"]]
    proposals = proposal_events(PAVLODAR)
    for topic, events in ((topics.registration, registration), (topics.quota, quotas),
                          (topics.proposals, proposals)):  # fmt: skip
        await produce(bootstrap, topic, [e for e in events for _ in range(2)])  # each twice
    await wait_for(handled(schema, registration + quotas + proposals), timeout=60)


async def test_projections_from_streams_with_duplicates_and_disorder(
    worker: MonitoringSettings, topics: Topics, schema: ServiceSchema, bootstrap: str,
    client: httpx.AsyncClient,
) -> None:  # fmt: skip
    await publish_script(bootstrap, topics, schema)
    flows = {
        (r[0], r[2], r[3], r[5], r[6], r[7], r[8])  # region, scope, direction, status, kandas...
        for r in await rows(schema, "flows")
    }
    assert flows == {
        (NORTH_KAZ, "external", "in", "citizen", "kandas", "CHN", 1),
        (NORTH_KAZ, "internal", "out", "citizen", "unknown", ASTANA, 1),
        (ASTANA, "internal", "in", "citizen", "unknown", NORTH_KAZ, 1),
        (NORTH_KAZ, "external", "out", "foreigner", "other", "RUS", 1),
    }
    districts = {r[4] for r in await rows(schema, "flows") if r[3] == "in" and r[2] == "external"}
    assert districts == {"591000000"}
    [stay_row] = await rows(schema, "registrations")
    assert (stay_row[3], stay_row[4], stay_row[7], stay_row[8]) == ("temporary", "work", 1, 0)
    [settled] = await rows(schema, "resettlement")
    assert settled[3:9] == (1, 4, 4, 0, 4, 0)  # applications, requested, approved, ..completed
    [quota] = await rows(schema, "quotas")
    assert (quota[6], quota[8], quota[9]) == (1000, 0, 4)  # the later limit; reserved, consumed
    stages = {(r[2], r[3], r[4]) for r in await rows(schema, "proposals")}
    assert stages == {
        ("regional_quota_change", "submitted", 1), ("regional_quota_change", "approved", 1),
        ("regional_quota_change", "applied", 1),
    }  # fmt: skip
    north = await client.get(
        f"/v1/regions/{NORTH_KAZ}/indicators?period=2024-01", headers=token("monitoring:read")
    )
    assert north.status_code == 200, north.text
    body = north.json()
    assert body["net_migration_external"]["value"] == 0  # 1 in, 1 out
    assert body["net_migration_internal"]["value"] == -1
    assert body["net_migration"]["sources"][0]["kind"] == "events"
    assert body["births"]["value"] is None
    assert "births" in body["births"]["reason"]
    matrix = await client.get(
        f"/v1/regions/{NORTH_KAZ}/projections?period=2024", headers=token("monitoring:read")
    )
    assert matrix.status_code == 200, matrix.text
    out = {(f["scope"], f["direction"], f["counterpart"], f["kandas"], f["persons"])
           for f in matrix.json()["flows"]}  # fmt: skip
    assert out == {
        ("external", "in", "CHN", "kandas", 1), ("internal", "out", ASTANA, "unknown", 1),
        ("external", "out", "RUS", "other", 1),
    }  # fmt: skip
    assert matrix.json()["latest_event_at"]["flows"].startswith("2024-01-20")
    pavlodar_projections = (
        await client.get(f"/v1/regions/{PAVLODAR}/projections?period=2024-01",
                         headers=token("monitoring:read"))
    ).json()  # fmt: skip
    assert pavlodar_projections["registrations"][0]["purpose"] == "work"
    assert pavlodar_projections["resettlement"][0]["completed"] == 4
    assert pavlodar_projections["quotas"][0]["remaining"] == 996
    pavlodar = await client.get(
        f"/v1/regions/{PAVLODAR}/indicators?period=2024", headers=token("monitoring:read")
    )
    kandas = pavlodar.json()["quotas"]["kandas"]
    assert (kandas["limit"]["value"], kandas["consumed"]["value"]) == (1000, 4)
    assert kandas["utilization"]["value"] == pytest.approx(0.004)
    assert kandas["resettled"]["value"] == 4


async def test_rebuild_gives_the_incremental_tables_row_for_row(
    worker: MonitoringSettings, topics: Topics, schema: ServiceSchema, bootstrap: str,
    group: str,
) -> None:  # fmt: skip
    await publish_script(bootstrap, topics, schema)
    incremental = await snapshot(schema)
    async with schema.engine.begin() as connection:  # as a projection bug would leave them
        await connection.execute(text("UPDATE p_flows SET persons = persons + 100"))
        await connection.execute(text("DELETE FROM p_quotas"))
    late = [immigrated(uuid.uuid4(), PAVLODAR, country="TUR")]

    async def publish_during_rebuild(_: str) -> None:
        await produce(bootstrap, topics.registration, late)
        await wait_for(handled(schema, late), timeout=60)  # the live consumer: old tables

    report = await rebuild(
        schema.engine, bootstrap=bootstrap, topics=topics.all, group=group,
        batch_size=7, before_swap=publish_during_rebuild,
    )  # fmt: skip
    assert report.duplicates == report.replayed - 1  # every scripted event twice, late once
    rebuilt = await snapshot(schema)
    turks = [r for r in rebuilt["flows"] if r[7] == "TUR"]
    assert [r[8] for r in turks] == [1]  # replayed in the swap: once, not lost, not twice
    rebuilt["flows"] = [r for r in rebuilt["flows"] if r[7] != "TUR"]
    assert rebuilt == incremental
    after = [immigrated(uuid.uuid4(), PAVLODAR, country="TUR")]
    await produce(bootstrap, topics.registration, after)
    await wait_for(handled(schema, after), timeout=60)
    turks = [r for r in await rows(schema, "flows") if r[7] == "TUR"]
    assert [r[8] for r in turks] == [2]  # the live consumer writes into the swapped-in tables
