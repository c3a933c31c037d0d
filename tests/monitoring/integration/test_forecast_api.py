"""The §9 forecast on the real PostgreSQL: `GET /v1/regions/{kato}/forecast` over the
shipped public series (load-reference), its refusals, and `forecast-published` written to
the outbox in the import's transaction when new figures change a forecast, and not when
they do not."""

from __future__ import annotations

import httpx
import pytest
from monitoring.helpers import ABAI, ASTANA, NATIONAL, token
from sqlalchemy import text
from support.reference import DATA
from support.services import ServiceSchema

from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bus import Bus

pytestmark = pytest.mark.integration

READ = token("monitoring:read")
WRITE = token("monitoring:write")


@pytest.fixture
async def loaded(bus: Bus) -> None:
    await load_reference(bus, DATA)


async def forecast(client: httpx.AsyncClient, kato: str, years: int = 5) -> dict[str, object]:
    response = await client.get(f"/v1/regions/{kato}/forecast?years={years}", headers=READ)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def published(schema: ServiceSchema) -> list[str]:
    """The subjects (regions) of the forecast-published rows in the outbox, in order."""
    async with schema.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT key, event_type FROM outbox ORDER BY id"),
        )
        return [r.key for r in rows.all() if r.event_type.endswith(".forecast-published.v1")]


async def test_astana_five_years_from_the_shipped_series(
    loaded: None, client: httpx.AsyncClient
) -> None:
    body = await forecast(client, ASTANA)
    assert body["region"] == ASTANA
    assert body["base_date"] == "2025-01-01"  # 2 x the 2024 average - 1 January 2024
    points = body["points"]
    assert isinstance(points, list)
    assert [p["date"] for p in points] == [f"{y}-01-01" for y in range(2026, 2031)]
    last = 1_528_651  # 1 January 2025, from the averages
    for p in points:
        assert p["lower_95"] < p["lower_80"] < p["population"] < p["upper_80"] < p["upper_95"]
        assert p["population"] > last  # Astana grows about 6.7 % a year
        last = p["population"]
        assert p["primary_care"] == pytest.approx(p["population"] / 10_000 * 181.5, abs=0.05)
        assert p["school_places"] is None  # no §5 age groups ship with the project
    widths = [p["upper_80"] - p["lower_80"] for p in points]
    assert widths == sorted(widths)  # the intervals widen with the horizon
    assert body["age_shares"] == "none"
    assert "age groups" in str(body["places_reason"])
    history = body["history"]
    assert isinstance(history, list)
    assert [h["kind"] for h in history][-2:] == ["from-average", "from-average"]


async def test_abai_gets_its_2022_share_of_east_kazakhstan_before_2022(
    loaded: None, client: httpx.AsyncClient
) -> None:
    body = await forecast(client, ABAI, years=2)
    history = body["history"]
    assert isinstance(history, list)
    before = [h for h in history if h["date"] < "2022-01-01"]
    assert [h["kind"] for h in before] == ["share-of-parent"] * 3
    share = 611_888 / (611_888 + 732_966)  # 1 January 2022, Abai / (Abai + East Kazakhstan)
    assert before[0]["population"] == pytest.approx(1_378_527 * share, abs=0.1)
    assert len(body["points"]) == 2  # type: ignore[arg-type]


async def test_age_groups_of_the_region_or_the_nation_give_the_places(
    loaded: None, client: httpx.AsyncClient
) -> None:
    groups = {"age_0": 20, "age_1_5": 100, "age_6_17": 240, "age_18_62": 540, "age_63_plus": 100}
    row = {"kato": NATIONAL, "date": "2024-01-01", "total": 1000, **groups}
    sent = await client.post(
        "/v1/statistics/population", json={"source": "test", "rows": [row]}, headers=WRITE
    )
    assert sent.status_code == 200, sent.text
    body = await forecast(client, ASTANA, years=1)
    assert body["age_shares"] == "national"
    point = body["points"][0]  # type: ignore[index]
    assert point["school_places"] == round(point["population"] * 0.24 * 1.0)
    assert point["kindergarten_places"] == round(point["population"] * 0.10 * 0.85)


async def test_refusals(client: httpx.AsyncClient, bus: Bus) -> None:
    empty = await client.get(f"/v1/regions/{ASTANA}/forecast", headers=READ)
    assert empty.status_code == 409  # nothing loaded yet
    assert empty.json()["type"].endswith("/forecast-unavailable")
    await load_reference(bus, DATA)
    for years in ("0", "6", "two"):
        bad = await client.get(f"/v1/regions/{ASTANA}/forecast?years={years}", headers=READ)
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["errors"][0]["field"] == "query.years"
    short = await client.get("/v1/regions/71000000/forecast", headers=READ)
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "path.kato"
    for unknown in ("120000000", NATIONAL):
        missing = await client.get(f"/v1/regions/{unknown}/forecast", headers=READ)
        assert missing.status_code == 404, missing.text
    assert (await client.get(f"/v1/regions/{ASTANA}/forecast")).status_code == 401
    other = token("monitoring:write")
    assert (await client.get(f"/v1/regions/{ASTANA}/forecast", headers=other)).status_code == 403


async def test_forecast_published_when_inputs_change_it_and_only_then(
    client: httpx.AsyncClient, bus: Bus, schema: ServiceSchema
) -> None:
    await load_reference(bus, DATA)
    first = await published(schema)
    assert set(first) >= {ASTANA, ABAI}
    assert len(set(first)) == 20
    await load_reference(bus, DATA)  # the same figures again: nothing changes
    assert await published(schema) == first
    area = {"kato": ASTANA, "date": "2024-01-01", "area_km2": 810.2}
    await client.post("/v1/statistics/area", json={"source": "t", "rows": [area]}, headers=WRITE)
    mid_year = {"kato": ASTANA, "date": "2024-07-01", "total": 1_470_000}  # not a 1 January
    sent = await client.post(
        "/v1/statistics/population", json={"source": "t", "rows": [mid_year]}, headers=WRITE
    )
    assert sent.status_code == 200, sent.text
    assert await published(schema) == first
    before = await forecast(client, ASTANA)
    newer = {"kato": ASTANA, "date": "2026-01-01", "total": 1_600_000}
    sent = await client.post(
        "/v1/statistics/population", json={"source": "t", "rows": [newer]}, headers=WRITE
    )
    assert sent.status_code == 200, sent.text
    after = await published(schema)
    assert ASTANA in after[len(first) :]
    moved = await forecast(client, ASTANA)
    assert moved["base_date"] == "2026-01-01"
    assert moved["points"] != before["points"]


async def test_a_refused_import_publishes_nothing(
    loaded: None, client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    first = await published(schema)
    rows = [
        {"kato": ASTANA, "date": "2026-01-01", "total": 1_600_000},
        {"kato": ASTANA, "date": "2027-01-01", "total": -1},
    ]
    refused = await client.post(
        "/v1/statistics/population", json={"source": "t", "rows": rows}, headers=WRITE
    )
    assert refused.status_code == 422
    assert await published(schema) == first
