"""The browser tests' world: Debian's `chromium` driven by Playwright's async API (the suite
runs on pytest-asyncio's loop, where the sync API cannot run), the monitoring API served by
a real uvicorn server on a free port of this process, on a schema built by the service's
migrations and fed by `scenario.populate` through the real worker and Kafka.

Without the chromium binary the tests are skipped, saying so (`make test` installs it when
it runs as root: scripts/test.sh)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from monitoring.browser.scenario import populate
from monitoring.helpers import Clock
from monitoring.streams import fresh_topics, running_worker
from playwright.async_api import Browser, async_playwright
from support.http import served
from support.services import ServiceSchema, migrated_schema

from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app, sql_bus
from koshiqon.monitoring.config import MonitoringSettings

ARTIFACTS = Path(__file__).resolve().parents[3] / ".local" / "artifacts" / "dashboard"
CHROMIUM = os.environ.get("KOSHIQON_CHROMIUM", "/usr/bin/chromium")


def chromium() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found is None:
        pytest.skip(
            f"no chromium browser at {CHROMIUM} or on PATH (Debian's package `chromium`; "
            "scripts/test.sh installs it when run as root)"
        )
    return found


@dataclass(frozen=True)
class Site:
    url: str
    schema: ServiceSchema


@pytest.fixture(scope="module")
async def site(admin_database_url: str, bootstrap: str) -> AsyncIterator[Site]:
    chromium()  # skip before building anything
    clock = Clock()
    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        topics = await fresh_topics(bootstrap)
        settings = MonitoringSettings(
            database_url=schema.dsn, database_schema=schema.schema, environment="test",
            topics=topics.all, kafka_bootstrap_servers=bootstrap,
        )  # fmt: skip
        app = build_app(settings, now=clock)
        group = f"browser-{uuid.uuid4().hex[:8]}"
        async with (
            running_worker(settings, now=clock, group=group),
            served(build_app(settings, now=clock), "http://monitoring") as client,
        ):
            await populate(client, sql_bus(schema.engine, now=clock), bootstrap, topics, schema)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        )
        task = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
            yield Site(f"http://127.0.0.1:{port}", schema)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=30)
            listener.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    path = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def api(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    """A program's client of the same server (bearer token), to compare with the pages."""
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
