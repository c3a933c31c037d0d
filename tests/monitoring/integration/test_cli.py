"""`koshiqon-monitoring load-reference` and `rebuild` as commands (two processes), as an
operator runs them, against the test's schema (and, for rebuild, the test's own topics)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from monitoring.streams import fresh_topics
from support.services import ServiceSchema

pytestmark = pytest.mark.integration


async def command(schema: ServiceSchema, *args: str, **env: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "koshiqon.monitoring.entrypoints.cli", *args,
        env={**os.environ, "KOSHIQON_ENV": "test", "MONITORING_DATABASE_URL": schema.dsn,
             "MONITORING_DATABASE_SCHEMA": schema.schema, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_load_reference_then_rebuild(schema: ServiceSchema, bootstrap: str) -> None:
    first = await command(schema, "load-reference")
    assert "population_2022-2023.csv (population): 0 added, 20 replaced" in first
    # running it twice changes nothing: test_statistics.py, in process
    topics = await fresh_topics(bootstrap)
    rebuilt = await command(
        schema, "rebuild", MONITORING_TOPICS=json.dumps(list(topics.all)),
        MONITORING_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
    )  # fmt: skip
    assert rebuilt.startswith("rebuilt: 0 events replayed"), rebuilt
