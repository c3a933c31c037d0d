"""The dashboard over HTTP on the real PostgreSQL and Kafka: the sign-in (the session
cookie's attributes, a bad token, a token without monitoring:read, a form posted from
another site, sign-out), a program's bearer token, the pages' 4xx (bad language, period,
region) with no 5xx, the static assets, and every table's CSV against the API's
`/v1/indicators.csv` and `/v1/regions/{kato}/projections`."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from monitoring.browser.scenario import MONTH, PERIOD, populate
from monitoring.helpers import ABAI, ASTANA, NORTH_KAZ, PAVLODAR, Clock, token
from monitoring.streams import Topics, fresh_topics, running_worker
from support.http import served
from support.reference import DATA
from support.services import ServiceSchema

from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bootstrap import build_app
from koshiqon.monitoring.bus import Bus
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.entrypoints.dashboard.session import SESSION_COOKIE, DashboardSettings

pytestmark = pytest.mark.integration

READ = token("monitoring:read")
BEARER = READ["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def loaded(bus: Bus) -> None:
    await load_reference(bus, DATA)


@pytest.fixture
async def populated(
    schema: ServiceSchema, clock: Clock, bootstrap: str, bus: Bus, client: httpx.AsyncClient
) -> AsyncIterator[None]:
    topics: Topics = await fresh_topics(bootstrap)
    settings = MonitoringSettings(
        database_url=schema.dsn, database_schema=schema.schema, environment="test",
        topics=topics.all, kafka_bootstrap_servers=bootstrap,
    )  # fmt: skip
    async with running_worker(settings, now=clock, group=f"dashboard-{uuid.uuid4().hex[:8]}"):
        await populate(client, bus, bootstrap, topics, schema)
        yield


async def sign_in(client: httpx.AsyncClient, bearer: str = BEARER, **extra: str) -> httpx.Response:
    return await client.post(
        "/dashboard/login", data={"token": bearer, "next": "/dashboard?period=2024", **extra}
    )


def table_rows(html: str, sheet: str) -> list[str]:
    """The <tr> of a table's body (the regions table's nation row is its footer)."""
    found = re.search(rf'data-sheet="{sheet}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert found is not None, f"no table {sheet}"
    return re.findall(r"<tr[ >]", found.group(1))


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- the session ----------------------------------------------------------------------------


async def test_a_browser_without_a_session_is_sent_to_the_form(
    loaded: None, client: httpx.AsyncClient
) -> None:
    page = await client.get("/dashboard?period=2023&lang=ru")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/dashboard/login?lang=ru&next=")
    form = await client.get(page.headers["location"])
    assert form.status_code == 200
    assert '<html lang="ru">' in form.text
    assert "Токен доступа" in form.text
    assert 'name="next" value="/dashboard?period=2023&amp;lang=ru"' in form.text


async def test_signing_in_sets_a_strict_http_only_cookie_and_signing_out_clears_it(
    loaded: None, client: httpx.AsyncClient
) -> None:
    signed = await sign_in(client, lang="en")
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"] == "/dashboard?period=2024&lang=en"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={BEARER};")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/dashboard"} <= attributes
    assert "secure" not in attributes  # plain http
    assert not any(a.startswith("max-age") for a in attributes)  # a browser-session cookie
    page = await client.get("/dashboard?period=2023&lang=en")
    assert page.status_code == 200
    assert len(table_rows(page.text, "regions")) == 20
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    out = await client.post("/dashboard/logout", data={"lang": "en"})
    assert out.status_code == 303
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert (await client.get("/dashboard?period=2023")).status_code == 303


async def test_over_https_or_when_configured_the_cookie_is_secure(
    settings: MonitoringSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def secure(response: httpx.Response) -> bool:
        attributes = response.headers["set-cookie"].lower().split(";")
        return "secure" in {a.strip() for a in attributes}

    async with served(build_app(settings), "https://monitoring") as https:
        assert secure(await sign_in(https))
    app = build_app(settings)
    app.state.dashboard_settings = DashboardSettings(cookie_secure=True)
    async with served(app, "http://monitoring") as http:
        assert secure(await sign_in(http))
    monkeypatch.setenv("MONITORING_DASHBOARD_COOKIE_SECURE", "false")
    async with served(build_app(settings), "https://monitoring") as https:
        assert not secure(await sign_in(https))  # configured: the setting, not the scheme


async def test_a_bad_token_gets_the_form_again_and_no_cookie(
    loaded: None, client: httpx.AsyncClient
) -> None:
    for bearer, status, message in (
        ("not-a-token", 401, "The token was not accepted"),
        (BEARER[:-6] + "AAAAAA", 401, "The token was not accepted"),
        ("", 422, "Enter a token"),
        ("x" * 5000, 401, "The token was not accepted"),
    ):
        refused = await sign_in(client, bearer, lang="en")
        assert refused.status_code == status, bearer[:20]
        assert message in refused.text
        assert '<textarea id="token"' in refused.text
        assert "set-cookie" not in refused.headers
    other_scope = token("monitoring:write")["Authorization"].removeprefix("Bearer ")
    forbidden = await sign_in(client, other_scope, lang="en")
    assert forbidden.status_code == 403
    assert "does not grant monitoring:read" in forbidden.text
    not_a_form = await client.post("/dashboard/login", json={"token": BEARER})
    assert not_a_form.status_code == 422


async def test_a_form_posted_from_another_site_is_refused(
    loaded: None, client: httpx.AsyncClient
) -> None:
    cross = await sign_in(client)  # no Origin, no Sec-Fetch-Site: not a browser, accepted
    assert cross.status_code == 303
    client.cookies.clear()
    for headers in ({"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
                    {"origin": "https://elsewhere.example"}, {"origin": "null"}):  # fmt: skip
        refused = await client.post(
            "/dashboard/login", data={"token": BEARER, "lang": "en"}, headers=headers
        )
        assert refused.status_code == 403, headers
        assert "set-cookie" not in refused.headers
        assert "accepted from this site only" in refused.text
    same = await client.post(
        "/dashboard/login", data={"token": BEARER}, headers={"origin": "http://monitoring"}
    )
    assert same.status_code == 303


async def test_an_expired_or_unscoped_session_cookie(
    loaded: None, client: httpx.AsyncClient
) -> None:
    ended = await client.get(
        "/dashboard?period=2023&lang=en", headers={"cookie": f"{SESSION_COOKIE}=garbage"}
    )
    assert ended.status_code == 303
    assert "error=session_ended" in ended.headers["location"]
    form = await client.get(ended.headers["location"])
    assert "The session has ended" in form.text
    unscoped = token("monitoring:write")["Authorization"].removeprefix("Bearer ")
    forbidden = await client.get(
        "/dashboard?period=2023&lang=en", headers={"cookie": f"{SESSION_COOKIE}={unscoped}"}
    )
    assert forbidden.status_code == 403
    assert "text/html" in forbidden.headers["content-type"]


async def test_a_program_sends_its_bearer_token(loaded: None, client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard?period=2023", headers=READ)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    bad = await client.get("/dashboard?period=2023", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    basic = await client.get("/dashboard", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    unscoped = await client.get("/dashboard", headers=token("monitoring:write"))
    assert unscoped.status_code == 403
    assert unscoped.json()["missing_scopes"] == ["monitoring:read"]
    csv_ = await client.get(
        "/dashboard/tables/regions.csv?period=2023", headers=token("quota:read")
    )
    assert csv_.status_code == 403


# --- 4xx pages --------------------------------------------------------------------------------


async def test_bad_language_period_and_region(loaded: None, client: httpx.AsyncClient) -> None:
    await sign_in(client)
    for lang in ("xx", "", "KK", "en-US"):
        page = await client.get(f"/dashboard?period=2023&lang={lang}")
        assert page.status_code == 200
        assert '<html lang="kk">' in page.text  # the default, the state language
    for period in ("2023-13", "2023Q1", "99", "1989", "2023-Q5", " "):
        page = await client.get("/dashboard", params={"period": period, "lang": "en"})
        assert page.status_code == 422, period
        assert "text/html" in page.headers["content-type"]
        assert "(period)" in page.text
        region = await client.get(f"/dashboard/regions/{PAVLODAR}", params={"period": period})
        assert region.status_code == 422
        download = await client.get("/dashboard/tables/regions.csv", params={"period": period})
        assert download.status_code == 422
        assert download.json()["errors"][0]["field"] == "period"
    for kato in ("123456789", "abc", "591000000", "000000000"):
        page = await client.get(f"/dashboard/regions/{kato}?period=2023&lang=en")
        assert page.status_code == 404, kato
        assert "There is no such region" in page.text
        download = await client.get(f"/dashboard/regions/{kato}/tables/indicators.csv")
        assert download.status_code == 404
    abai = await client.get(f"/dashboard/regions/{ABAI}?period=2021&lang=en")
    assert abai.status_code == 404  # formed on 8 June 2022
    assert "did not exist" in abai.text
    slash = await client.get("/dashboard/?period=2023&lang=ru")
    assert (slash.status_code, slash.headers["location"]) == (308, "/dashboard?period=2023&lang=ru")
    unknown = await client.get("/dashboard/tables/nothing.csv?period=2023")
    assert unknown.status_code == 404
    assert (await client.get("/dashboard/static/../router.py")).status_code == 404
    assert (await client.get("/dashboard/static/secret.txt")).status_code == 404


async def test_the_default_period_is_this_year_in_kazakhstan(
    loaded: None, client: httpx.AsyncClient
) -> None:
    await sign_in(client)
    page = await client.get("/dashboard?lang=en")
    assert page.status_code == 200
    assert '<option value="2024" selected>' in page.text  # the test's clock: March 2024


async def test_the_chart_library_is_served_with_its_licence(client: httpx.AsyncClient) -> None:
    page_asset = re.compile(r'<script src="(/dashboard/static/plotly-[0-9.]+\.min\.js)">')
    form = await client.get("/dashboard/login")
    assert "plotly-LICENSE.txt" in form.text
    await sign_in(client)
    html = (await client.get("/dashboard?period=2023")).text
    found = page_asset.search(html)
    assert found is not None
    script = await client.get(found.group(1))
    assert script.status_code == 200
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.text.startswith("/**\n* plotly.js v")
    assert "Licensed under the MIT license" in script.text[:300]
    licence = await client.get("/dashboard/static/plotly-LICENSE.txt")
    assert licence.status_code == 200
    assert "MIT" in licence.text or "Permission is hereby granted" in licence.text
    own = await client.get("/dashboard/static/dashboard.js")
    assert own.status_code == 200
    assert "Plotly.newPlot" in own.text
    assert "cdn" not in html.lower()


# --- the tables' CSV against the API ------------------------------------------------------------


async def test_every_table_s_csv_has_the_api_s_figures(
    populated: None, client: httpx.AsyncClient
) -> None:
    api = {r["kato"]: r for r in parse(
        (await client.get(f"/v1/indicators.csv?period={PERIOD}", headers=READ)).text
    )}  # fmt: skip
    regions = parse((await client.get(f"/dashboard/tables/regions.csv?period={PERIOD}&lang=ru",
                                      headers=READ)).text)  # fmt: skip
    assert [r["kato"] for r in regions] == list(api)  # 20 regions, then the nation
    for row in regions:
        source = api[row["kato"]]
        assert row["name"] == source["name_ru"]
        for column, value in row.items():
            if column in source:
                assert value == source[column], (row["kato"], column)
    north = next(r for r in regions if r["kato"] == NORTH_KAZ)
    assert north["net_migration"] == "-6"  # 4 abroad, 2 to Astana
    assert north["active_alert"].startswith("year:2024-01-01..2024-12-31")
    quotas = parse((await client.get(f"/dashboard/tables/quotas.csv?period={PERIOD}",
                                     headers=READ)).text)  # fmt: skip
    assert {(q["kato"], q["kind"]) for q in quotas} == {
        (PAVLODAR, "kandas"),
        (NORTH_KAZ, "kandas"),
        (ASTANA, "kandas"),
        ("000000000", "kandas"),
    }
    for q in quotas:
        for measure in ("limit", "reserved", "consumed", "utilization", "resettled"):
            assert q[measure] == api[q["kato"]][f"quota_{q['kind']}_{measure}"]
    pavlodar = next(q for q in quotas if q["kato"] == PAVLODAR)
    assert (pavlodar["limit"], pavlodar["consumed"], pavlodar["resettled"]) == ("1000", "4", "4")

    base = f"/dashboard/regions/{NORTH_KAZ}/tables"
    indicators = parse((await client.get(f"{base}/indicators.csv?period={PERIOD}",
                                         headers=READ)).text)  # fmt: skip
    for row in indicators:
        assert row["value"] == api[NORTH_KAZ][row["indicator"]], row["indicator"]
    monthly = parse((await client.get(f"{base}/monthly.csv?period={PERIOD}", headers=READ)).text)
    month_api = parse((await client.get(f"/v1/indicators.csv?period={MONTH}", headers=READ)).text)
    north_january = next(r for r in month_api if r["kato"] == NORTH_KAZ)
    for scope, direction, column in (("external", "out", "departures_external"),
                                     ("internal", "out", "departures_internal"),
                                     ("external", "in", "arrivals_external")):  # fmt: skip
        persons = sum(int(r["persons"]) for r in monthly if (r["month"], r["scope"],
                      r["direction"]) == (MONTH, scope, direction))  # fmt: skip
        assert str(persons) == north_january[column], column
    assert sum(int(r["persons"]) for r in monthly) == 6
    forecast = parse((await client.get(f"{base}/forecast.csv?period={PERIOD}", headers=READ)).text)
    api_forecast = (await client.get(f"/v1/regions/{NORTH_KAZ}/forecast?years=5",
                                     headers=READ)).json()  # fmt: skip
    assert len(forecast) == 5
    for row, point in zip(forecast, api_forecast["points"], strict=True):
        assert row == {k: "" if point[k] is None else str(point[k]) for k in row}
    alerts = parse((await client.get(f"{base}/alerts.csv?period={PERIOD}", headers=READ)).text)
    assert [(a["period"], a["period_from"], a["net_departures"]) for a in alerts] == [
        ("year", "2024-01-01", "1")
    ]  # raised by the first departure: births and deaths are even
    projections = (await client.get(f"/v1/regions/{PAVLODAR}/projections?period={PERIOD}",
                                    headers=READ)).json()  # fmt: skip
    base = f"/dashboard/regions/{PAVLODAR}/tables"
    counterparts = parse((await client.get(f"{base}/counterparts.csv?period={PERIOD}",
                                           headers=READ)).text)  # fmt: skip
    expected: dict[tuple[str, str, str], int] = {}
    for f in projections["flows"]:
        key = (f["scope"], f["direction"], f["counterpart"])
        expected[key] = expected.get(key, 0) + f["persons"]
    assert {(c["scope"], c["direction"], c["counterpart"]): int(c["persons"])
            for c in counterparts} == expected  # fmt: skip
    quota_use = parse((await client.get(f"{base}/quota-use.csv?period={PERIOD}",
                                        headers=READ)).text)  # fmt: skip
    assert [(q["quota_id"], q["limit"], q["reserved"], q["consumed"], q["remaining"])
            for q in quota_use] == [
        (q["quota_id"], str(q["limit"]), str(q["reserved"]), str(q["consumed"]),
         str(q["remaining"])) for q in projections["quotas"]
    ]  # fmt: skip
    proposals = parse((await client.get(f"{base}/proposals.csv?period={PERIOD}",
                                        headers=READ)).text)  # fmt: skip
    assert [(p["type"], p["stage"]) for p in proposals] == [("regional_quota_change", "applied")]


async def test_a_region_without_figures_says_its_forecast_cannot_be_made(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(f"/dashboard/regions/{PAVLODAR}?period=2024&lang=en", headers=READ)
    assert page.status_code == 200
    assert "No forecast could be made" in page.text
    assert 'id="chart-forecast"' not in page.text
    assert len(table_rows(page.text, "indicators")) > 20
    national = await client.get("/dashboard?period=2024&lang=en", headers=READ)
    assert national.status_code == 200
    assert len(table_rows(national.text, "regions")) == 20
