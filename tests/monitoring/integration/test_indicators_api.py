"""The indicators over the API, from the public figures `load-reference` loads (data/) and
worked by hand in docs/domain.md: the nation's natural increase and its rate, the crude birth
rate, urbanization, the revised population of 1 January 2023, density; the old borders of
2021; the CSV export; and a missing input shown as null with its reason."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from monitoring.helpers import ABAI, NATIONAL, NORTH_KAZ, token
from support.reference import DATA

from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bus import Bus
from koshiqon.monitoring.entrypoints.api import csv_columns

pytestmark = pytest.mark.integration

READ = token("monitoring:read")


@pytest.fixture
async def loaded(bus: Bus) -> None:
    await load_reference(bus, DATA)


async def table(client: httpx.AsyncClient, period: str) -> dict[str, object]:
    response = await client.get(f"/v1/indicators?period={period}", headers=READ)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_2024_natural_increase_rate_and_urbanization(
    loaded: None, client: httpx.AsyncClient
) -> None:
    body = await table(client, "2024")
    nation = body["national"]
    assert isinstance(nation, dict)
    assert nation["name"]["en"] == "Kazakhstan"
    assert nation["natural_increase"]["value"] == 233_007  # 365,923 - 132,916
    assert nation["natural_increase_rate"]["value"] == pytest.approx(11.56, abs=0.005)
    assert nation["birth_rate"]["value"] == pytest.approx(18.15, abs=0.005)
    assert nation["average_population"]["value"] == 20_158_620.5  # the regions' averages
    assert nation["urbanization"]["value"] == pytest.approx(62.7, abs=0.05)
    vital_source = nation["births"]["sources"][0]
    assert vital_source["kind"] == "statistics"
    assert "BNS" in vital_source["source"]
    assert nation["population"]["value"] is None  # no figure on 1 January 2024 in data/
    assert nation["population"]["reason"] == "population missing for 20 region(s)"
    items = body["items"]
    assert isinstance(items, list)
    assert len(items) == 20
    north = next(i for i in items if i["kato"] == NORTH_KAZ)
    assert north["births"]["value"] is None  # regional births are not in data/
    assert north["natural_increase_rate"]["reason"].startswith("no births and deaths")


async def test_2023_shows_the_revised_population_and_density(
    loaded: None, client: httpx.AsyncClient
) -> None:
    body = await table(client, "2023")
    nation = body["national"]
    assert isinstance(nation, dict)
    assert nation["population"]["value"] == 19_766_807
    items = body["items"]
    assert isinstance(items, list)
    north = next(i for i in items if i["kato"] == NORTH_KAZ)
    assert north["population"]["value"] == 534_108
    assert north["density"]["value"] == pytest.approx(534_108 / 97_993, abs=1e-4)  # ≈ 5.45
    assert north["area_km2"]["sources"][0]["kind"] == "reference"
    assert north["population"]["sources"][0]["date"] == "2023-01-01"
    quarter = await table(client, "2023-Q2")
    assert quarter["national"]["population"]["value"] == 19_766_807  # type: ignore[index]


async def test_2022_crude_birth_rate_and_2021_in_the_old_borders(
    loaded: None, client: httpx.AsyncClient
) -> None:
    nation = (await table(client, "2022"))["national"]
    assert isinstance(nation, dict)
    assert round(nation["birth_rate"]["value"], 2) == 20.57  # 403,893 / 19,634,983
    old = await table(client, "2021")
    items = old["items"]
    assert isinstance(items, list)
    assert len(items) == 17
    assert ABAI not in {i["kato"] for i in items}
    assert old["national"]["population"]["value"] == 18_879_552  # type: ignore[index]
    abai = await client.get(f"/v1/regions/{ABAI}/indicators?period=2021", headers=READ)
    assert abai.status_code == 404


async def test_region_and_nation_endpoints_and_bad_periods(
    loaded: None, client: httpx.AsyncClient
) -> None:
    one = await client.get(f"/v1/regions/{NORTH_KAZ}/indicators?period=2023", headers=READ)
    assert one.status_code == 200
    assert one.json()["period"] == "2023"
    nation = await client.get(f"/v1/regions/{NATIONAL}/indicators?period=2024", headers=READ)
    assert nation.json()["natural_increase"]["value"] == 233_007
    for bad in ("2023-13", "2023Q1", "99"):
        refused = await client.get(f"/v1/indicators?period={bad}", headers=READ)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "query.period"
    kato = await client.get("/v1/regions/12345/indicators?period=2023", headers=READ)
    assert kato.status_code == 422


async def test_csv_export_is_the_same_table(loaded: None, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/indicators.csv?period=2024", headers=READ)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == csv_columns()
    assert len(rows) == 21
    nation = rows[-1]
    assert (nation["kato"], nation["natural_increase"]) == (NATIONAL, "233007")
    assert nation["population"] == ""  # missing, not zero
    assert float(nation["urbanization"]) == pytest.approx(62.7, abs=0.05)
