"""Statistical inputs through the API on the real PostgreSQL: JSON and CSV, one transaction
per file (a bad row imports nothing and every bad row is listed with its line), the checks,
idempotency, replace with history, and `load-reference` with the preliminary and revised
populations of 1 January 2023."""

from __future__ import annotations

import httpx
import pytest
from monitoring.helpers import ABAI, CSV, NORTH_KAZ, PAVLODAR, token
from support.reference import DATA
from support.services import ServiceSchema

from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bus import Bus

pytestmark = pytest.mark.integration

SOURCE = "BNS bulletin, test"


def population(*rows: dict[str, object]) -> dict[str, object]:
    return {"source": SOURCE, "rows": list(rows)}


async def test_json_import_then_the_same_again_changes_nothing(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    body = population(
        {"kato": NORTH_KAZ, "date": "2023-01-01", "total": 534024, "urban": 250000,
         "rural": 284024, "male": 255000, "female": 279024},
    )  # fmt: skip
    first = await client.post("/v1/statistics/population", json=body, headers=token())
    assert first.status_code == 200, first.text
    assert first.json() == {"dataset": "population", "added": 1, "replaced": 0, "unchanged": 0,
                            "kept": 0}  # fmt: skip
    again = await client.post("/v1/statistics/population", json=body, headers=token())
    assert again.status_code == 200
    assert again.json()["unchanged"] == 1
    assert again.json()["added"] == 0
    assert await schema.scalar("SELECT count(*) FROM statistics") == 1
    assert await schema.scalar("SELECT count(*) FROM statistics_history") == 0
    listed = await client.get("/v1/statistics/population", headers=token("monitoring:read"))
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert (item["kato"], item["period_from"], item["figures"]["total"]) == (
        NORTH_KAZ, "2023-01-01", 534024,
    )  # fmt: skip
    assert item["source"] == SOURCE
    assert item["history"] == []


async def test_a_bad_row_imports_nothing_and_every_bad_row_is_named(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    csv = (
        "kato,date,total,urban,rural,male,female\n"
        f"{PAVLODAR},2023-01-01,750000,,,370000,380000\n"  # good
        f"{NORTH_KAZ},2023-01-01,-5,,,,\n"  # negative
        f"{ABAI},2021-01-01,600000,,,,\n"  # Abai did not exist in 2021
        f"{PAVLODAR},2024-01-01,100,60,50,,\n"  # urban + rural != total
        f"{NORTH_KAZ},2024-01-01,100,,,40,50\n"  # male + female != total
        "123456789,2024-01-01,100,,,,\n"  # not a region
        f"{PAVLODAR},2023-01-01,750000,,,370000,380000\n"  # repeats line 2
    )
    response = await client.post(
        "/v1/statistics/population?source=test", content=csv, headers={**token(), **CSV}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    rows = response.json()["rows"]
    assert [r["line"] for r in rows] == [3, 4, 5, 6, 7, 8]
    reasons = " | ".join(r["reason"] for r in rows)
    for expected in ("must not be negative", "did not exist on 2021-01-01", "urban + rural",
                     "male + female", "not the code of a region", "repeats"):  # fmt: skip
        assert expected in reasons
    assert await schema.scalar("SELECT count(*) FROM statistics") == 0


async def test_old_borders_are_accepted_before_the_split(client: httpx.AsyncClient) -> None:
    csv = "kato,date,total\n190000000,2021-01-01,2077967\n630000000,2021-01-01,1365000\n"
    response = await client.post(
        "/v1/statistics/population?source=old", content=csv, headers={**token(), **CSV}
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 2


async def test_a_different_figure_needs_replace_and_keeps_the_earlier_in_history(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    first = population({"kato": PAVLODAR, "date": "2023-01-01", "total": 750000})
    second = {"source": "BNS revision", "rows": [{"kato": PAVLODAR, "date": "2023-01-01",
                                                  "total": 751000}]}  # fmt: skip
    assert (await client.post("/v1/statistics/population", json=first, headers=token())).is_success
    refused = await client.post("/v1/statistics/population", json=second, headers=token())
    assert refused.status_code == 409, refused.text
    assert refused.json()["rows"][0]["line"] == 1
    replaced = await client.post(
        "/v1/statistics/population?replace=true", json=second, headers=token()
    )
    assert replaced.status_code == 200
    assert replaced.json()["replaced"] == 1
    [item] = (await client.get("/v1/statistics/population", headers=token())).json()["items"]
    assert item["figures"] == {"total": 751000}
    assert item["source"] == "BNS revision"
    assert [(h["figures"]["total"], h["source"]) for h in item["history"]] == [(750000, SOURCE)]


@pytest.mark.parametrize(
    ("dataset", "rows", "reason"),
    [
        ("ethnicity", [{"kato": PAVLODAR, "date": "2023-01-01", "group": "kazakh", "share": 60},
                       {"kato": PAVLODAR, "date": "2023-01-01", "group": "russian",
                        "share": 39.8}], "add up to 99.8"),
        ("vital", [{"kato": PAVLODAR, "period": "2023-13", "births": 1, "deaths": 1}],
         "a period is"),
        ("area", [{"kato": PAVLODAR, "date": "2023-01-01", "area_km2": 0}], "greater than 0"),
        ("labour-market", [{"kato": PAVLODAR, "date": "2023-01-01", "job_seekers": 10}],
         "vacancies is missing"),
        ("situation", [{"kato": PAVLODAR, "date": "2023-01-01", "topic": "ecological"}],
         "a rating or a note"),
        ("population-average", [{"kato": PAVLODAR, "year": 2024, "average": 10.5,
                                 "urban": 5, "rural": 5}], "urban + rural"),
    ],
)  # fmt: skip
async def test_each_dataset_checks_its_rows(
    client: httpx.AsyncClient, dataset: str, rows: list[dict[str, object]], reason: str
) -> None:
    response = await client.post(
        f"/v1/statistics/{dataset}", json={"source": "s", "rows": rows}, headers=token()
    )
    assert response.status_code == 422, response.text
    assert reason in response.json()["rows"][0]["reason"]


async def test_shares_within_a_tenth_and_counts_are_accepted(client: httpx.AsyncClient) -> None:
    rows = [
        {"kato": PAVLODAR, "date": "2023-01-01", "group": "kazakh", "share": 60.05},
        {"kato": PAVLODAR, "date": "2023-01-01", "group": "russian", "share": 39.9},
        {"kato": NORTH_KAZ, "date": "2023-01-01", "group": "kazakh", "count": 200},
        {"kato": NORTH_KAZ, "date": "2023-01-01", "group": "russian", "count": 300},
    ]
    response = await client.post(
        "/v1/statistics/ethnicity", json={"source": "census", "rows": rows}, headers=token()
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 2


async def test_input_errors_name_the_field(client: httpx.AsyncClient) -> None:
    no_source = await client.post(
        "/v1/statistics/population", content="kato,date,total\n", headers={**token(), **CSV}
    )
    assert no_source.status_code == 422
    assert no_source.json()["errors"][0]["field"] == "source"
    bad_json = await client.post("/v1/statistics/population", json={"rows": []}, headers=token())
    assert bad_json.status_code == 422
    assert {e["field"] for e in bad_json.json()["errors"]} >= {"source", "rows"}
    columns = await client.post(
        "/v1/statistics/vital?source=x", content="kato,year,births\n", headers={**token(), **CSV}
    )
    assert columns.status_code == 422
    assert columns.json()["rows"][0]["line"] == 1
    media = await client.post(
        "/v1/statistics/vital", content="x", headers={**token(), "content-type": "text/plain"}
    )
    assert media.status_code == 422
    assert media.json()["errors"][0]["field"] == "content-type"


async def test_a_regional_token_loads_its_own_region_only(client: httpx.AsyncClient) -> None:
    body = population({"kato": PAVLODAR, "date": "2023-01-01", "total": 750000})
    outside = await client.post(
        "/v1/statistics/population", json=body, headers=token(region=NORTH_KAZ)
    )
    assert outside.status_code == 403
    own = await client.post("/v1/statistics/population", json=body, headers=token(region=PAVLODAR))
    assert own.status_code == 200


async def test_load_reference_keeps_the_preliminary_in_history_and_runs_twice_alike(
    bus: Bus, client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    await load_reference(bus, DATA)
    counts = (
        await schema.scalar("SELECT count(*) FROM statistics"),
        await schema.scalar("SELECT count(*) FROM statistics_history"),
    )
    again = await load_reference(bus, DATA)
    assert all(r.added == r.replaced == 0 for _, r in again)
    assert counts == (
        await schema.scalar("SELECT count(*) FROM statistics"),
        await schema.scalar("SELECT count(*) FROM statistics_history"),
    )
    total = await schema.scalar(
        "SELECT sum((figures->>'total')::bigint) FROM statistics WHERE dataset = 'population' "
        "AND period_from = '2023-01-01' AND kato <> '000000000'"
    )
    assert total == 19_766_807
    preliminary = await schema.scalar(
        "SELECT sum((figures->>'total')::bigint) FROM statistics_history "
        "WHERE dataset = 'population' AND period_from = '2023-01-01'"
    )
    assert preliminary == 19_765_004
    table = await client.get("/v1/indicators?period=2023", headers=token("monitoring:read"))
    assert table.status_code == 200, table.text
    assert table.json()["national"]["population"]["value"] == 19_766_807


async def test_a_source_holding_nul_is_refused_naming_the_field(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    """PostgreSQL's text cannot store U+0000: unchecked, the source failed at the INSERT
    (a 500), given in the JSON body or as a CSV file's `?source=`."""
    before = await schema.scalar("SELECT count(*) FROM statistics")
    row = {"kato": PAVLODAR, "date": "2023-01-01", "total": 750000}
    as_json = await client.post(
        "/v1/statistics/population", json={"source": "BNS\x00", "rows": [row]}, headers=token()
    )
    as_csv = await client.post(
        "/v1/statistics/population", params={"source": "BNS\x00"},
        content="kato,date,total\n550000000,2023-01-01,750000\n", headers={**token(), **CSV},
    )  # fmt: skip
    fields = [[e["field"] for e in r.json()["errors"]] for r in (as_json, as_csv)]
    assert (as_json.status_code, as_csv.status_code, fields) == (
        422,
        422,
        [["source"], ["query.source"]],
    )
    assert await schema.scalar("SELECT count(*) FROM statistics") == before
