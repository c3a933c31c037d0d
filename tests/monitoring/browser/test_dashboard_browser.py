"""The dashboard in a real browser (Debian's chromium through Playwright): signing in through
the form, the national page's 20 region rows and its charts drawn (each element there with
a non-zero size), sorting, the drill-down to a region's page and its charts, the language
switch, a table's CSV downloaded by the browser equal to the API's figures, the form's
error for a bad token; no error in the browser's console on any page, and a screenshot of
each page under .local/artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from monitoring.browser.conftest import Site
from monitoring.browser.scenario import PERIOD
from monitoring.helpers import NORTH_KAZ, token
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Download,
    Page,
    expect,
)

pytestmark = pytest.mark.integration

READ = token("monitoring:read")
BEARER = READ["Authorization"].removeprefix("Bearer ")


class Watched:
    """A page with what its console and its scripts reported."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    created = await browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True
    )
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def tab(context: BrowserContext) -> Watched:
    return Watched(await context.new_page())


async def sign_in(tab: Watched, site: Site, path: str) -> None:
    await tab.page.goto(f"{site.url}{path}")
    await expect(tab.page.locator("textarea#token")).to_be_visible()
    await tab.page.fill("textarea#token", BEARER)
    await tab.page.click("form button[type=submit]")
    await tab.page.wait_for_load_state("load")


async def charts_drawn(page: Page) -> int:
    """Every chart drawn by plotly.js, with a non-zero size; their count."""
    charts = page.locator("div.chart")
    count = await charts.count()
    assert count > 0
    for i in range(count):
        chart = charts.nth(i)
        await expect(chart).to_have_attribute("data-drawn", "true")
        await expect(chart.locator("svg.main-svg").first).to_be_visible()
        box = await chart.bounding_box()
        assert box is not None
        name = await chart.get_attribute("id")
        assert box["width"] > 0, name
        assert box["height"] > 0, name
        plot = await chart.locator("svg.main-svg").first.bounding_box()
        assert plot is not None
        assert plot["width"] > 0, name
        assert plot["height"] > 0, name
    return count


async def shot(page: Page, artifacts: Path, name: str) -> None:
    path = artifacts / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


async def downloaded_text(download: Download) -> str:
    """What the browser saved, read off the event loop."""
    return await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_national_page_its_rows_charts_and_sorting(
    site: Site, tab: Watched, artifacts: Path
) -> None:
    await sign_in(tab, site, f"/dashboard?period={PERIOD}&lang=en")
    page = tab.page
    assert page.url.endswith(f"/dashboard?period={PERIOD}&lang=en")
    await expect(page.locator("h1")).to_contain_text("National overview")
    rows = page.locator("table[data-sheet=regions] tbody tr")
    await expect(rows).to_have_count(20)
    await expect(page.locator("table[data-sheet=regions] tfoot tr")).to_have_count(1)
    assert await charts_drawn(page) == 2
    await shot(page, artifacts, "national-en")
    heading = page.locator("table[data-sheet=regions] thead th[data-key=net_migration] button")
    await heading.click()
    column = await page.locator("table[data-sheet=regions] thead th").evaluate_all(
        "(ths) => ths.findIndex((th) => th.dataset.key === 'net_migration')"
    )
    keys = await rows.evaluate_all(f"(trs) => trs.map((tr) => tr.cells[{column}].dataset.sort)")
    values = [float(k) for k in keys if k != ""]
    assert values == sorted(values)
    assert values[0] == -6  # North Kazakhstan: 4 left abroad, 2 for Astana
    await expect(rows.first).to_have_attribute("data-kato", NORTH_KAZ)
    await heading.click()
    await expect(rows.first).not_to_have_attribute("data-kato", NORTH_KAZ)
    assert tab.errors == []


async def test_the_drill_down_to_a_region_and_its_charts(
    site: Site, tab: Watched, artifacts: Path
) -> None:
    await sign_in(tab, site, f"/dashboard?period={PERIOD}&lang=en")
    page = tab.page
    await page.click(f"table[data-sheet=regions] tr[data-kato='{NORTH_KAZ}'] a")
    await page.wait_for_url(f"**/dashboard/regions/{NORTH_KAZ}?lang=en&period={PERIOD}")
    await expect(page.locator("h1")).to_contain_text("North Kazakhstan")
    drawn = await charts_drawn(page)
    ids = await page.locator("div.chart").evaluate_all("(els) => els.map((e) => e.id)")
    assert set(ids) == {"chart-monthly", "chart-counterparts", "chart-quota-use",
                        "chart-forecast"}, ids  # fmt: skip
    assert drawn == len(ids)
    await expect(page.locator("table[data-sheet=forecast] tbody tr")).to_have_count(5)
    await expect(page.locator("#sheet-forecast .note").first).to_contain_text("Method")
    await expect(page.locator("table[data-sheet=alerts] tbody tr")).to_have_count(1)
    await expect(page.locator("table[data-sheet=proposals] tbody tr")).to_have_count(1)
    await expect(page.locator("table[data-sheet=proposals] tbody")).to_contain_text("Under review")
    await expect(page.locator("table[data-sheet=counterparts] tbody")).to_contain_text("Astana")
    await shot(page, artifacts, "region-north-kazakhstan-en")
    await page.click("a.back")
    await page.wait_for_url(f"**/dashboard?lang=en&period={PERIOD}")
    assert tab.errors == []


async def test_the_language_switch(site: Site, tab: Watched, artifacts: Path) -> None:
    await sign_in(tab, site, f"/dashboard/regions/{NORTH_KAZ}?period={PERIOD}&lang=en")
    page = tab.page
    await page.click("nav.languages a[data-lang=ru]")
    await page.wait_for_url(f"**/dashboard/regions/{NORTH_KAZ}?lang=ru&period={PERIOD}")
    assert await page.get_attribute("html", "lang") == "ru"
    await expect(page.locator("h1")).to_contain_text("Северо-Казахстанская область")
    await expect(page.locator("#sheet-monthly h2")).to_contain_text("Прибытие и выбытие")
    await charts_drawn(page)
    await shot(page, artifacts, "region-north-kazakhstan-ru")
    await page.click("nav.languages a[data-lang=kk]")
    await page.wait_for_url(f"**/dashboard/regions/{NORTH_KAZ}?lang=kk&period={PERIOD}")
    assert await page.get_attribute("html", "lang") == "kk"
    await expect(page.locator("h1")).to_contain_text("Солтүстік Қазақстан облысы")
    await page.click("a.back")
    await expect(page.locator("h1")).to_contain_text("Ел бойынша шолу")
    await expect(page.locator("table[data-sheet=regions] tbody")).to_contain_text("Абай облысы")
    await charts_drawn(page)
    await shot(page, artifacts, "national-kk")
    await page.select_option("select#period", "2024-Q1")
    await page.click("form.periods button")
    await page.wait_for_url("**/dashboard?lang=kk&period=2024-Q1")
    await expect(page.locator("h1 .period")).to_have_text("2024-Q1")
    await charts_drawn(page)
    assert tab.errors == []


async def test_a_table_downloaded_is_the_api_s_csv(
    site: Site, tab: Watched, api: httpx.AsyncClient
) -> None:
    await sign_in(tab, site, f"/dashboard?period={PERIOD}&lang=ru")
    page = tab.page
    async with page.expect_download() as waiting:
        await page.click("#sheet-regions a.csv")
    downloaded = csv_rows(await downloaded_text(await waiting.value))
    response = await api.get(f"/v1/indicators.csv?period={PERIOD}", headers=READ)
    assert response.status_code == 200
    reference = {r["kato"]: r for r in csv_rows(response.text)}
    assert [r["kato"] for r in downloaded] == list(reference)
    compared = 0
    for row in downloaded:
        assert row["name"] == reference[row["kato"]]["name_ru"]
        for column, value in row.items():
            if column in reference[row["kato"]]:
                assert value == reference[row["kato"]][column], (row["kato"], column)
                compared += 1
    assert compared > 20 * 10
    await page.goto(f"{site.url}/dashboard/regions/{NORTH_KAZ}?period={PERIOD}&lang=en")
    async with page.expect_download() as waiting:
        await page.click("#sheet-indicators a.csv")
    indicators = csv_rows(await downloaded_text(await waiting.value))
    north = reference[NORTH_KAZ]
    assert {r["indicator"]: r["value"] for r in indicators} == {
        r["indicator"]: north[r["indicator"]] for r in indicators
    }
    assert tab.errors == []


async def test_a_bad_token_gets_the_form_again_with_its_error(
    site: Site, tab: Watched, artifacts: Path
) -> None:
    page = tab.page
    await page.goto(f"{site.url}/dashboard?lang=en")
    await page.fill("textarea#token", "this is not a token")
    async with page.expect_response(lambda r: r.url.endswith("/dashboard/login")) as answer:
        await page.click("form button[type=submit]")
    assert (await answer.value).status == 401
    await expect(page.locator("#login-error")).to_contain_text("The token was not accepted")
    await expect(page.locator("textarea#token")).to_be_visible()
    await shot(page, artifacts, "login-refused-en")
    cookies = await page.context.cookies()
    assert not [c for c in cookies if c["name"] == "koshiqon_dashboard"]
    await page.fill("textarea#token", BEARER)
    await page.click("form button[type=submit]")
    await expect(page.locator("h1")).to_contain_text("National overview")
    [session] = [c for c in await page.context.cookies() if c["name"] == "koshiqon_dashboard"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == ""  # no script reads it
    await page.click("form.signout button")
    await expect(page.locator("textarea#token")).to_be_visible()
    assert not [c for c in await page.context.cookies() if c["name"] == "koshiqon_dashboard"]
    # the console shows the 401 of the refused form as a failed resource: that one is expected
    assert [e for e in tab.errors if "401" not in e] == []


async def test_an_unknown_region_and_a_bad_period_are_pages_that_say_so(
    site: Site, tab: Watched, artifacts: Path
) -> None:
    await sign_in(tab, site, f"/dashboard?period={PERIOD}&lang=en")
    page = tab.page
    missing = await page.goto(f"{site.url}/dashboard/regions/123456789?period={PERIOD}&lang=en")
    assert missing is not None
    assert missing.status == 404
    await expect(page.locator("h1")).to_have_text("Not found")
    await expect(page.locator("p.error")).to_contain_text("There is no such region")
    await shot(page, artifacts, "region-unknown-en")
    bad = await page.goto(f"{site.url}/dashboard?period=2024-13&lang=ru")
    assert bad is not None
    assert bad.status == 422
    await expect(page.locator("h1")).to_have_text("Неверный запрос")
    await page.click("main a")  # back to the national page, in the same language
    await expect(page.locator("h1")).to_contain_text("Обзор по стране")
    # the browser reports each refused document as a failed resource: those two, nothing else
    assert [e for e in tab.errors if " 404 " not in e and " 422 " not in e] == []
