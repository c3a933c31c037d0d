"""The monitoring worker's readiness (what `koshiqon-monitoring worker` answers on /readyz):
its database, the brokers, its schema at head and its consumer group's dead-letter topic."""

from __future__ import annotations

import uuid

import pytest

from koshiqon.common.health import run_checks
from koshiqon.monitoring.bootstrap import build_worker
from koshiqon.monitoring.config import MonitoringSettings

pytestmark = pytest.mark.integration


async def test_the_worker_names_its_checks_and_they_pass(settings: MonitoringSettings) -> None:
    group = f"monitoring-test-{uuid.uuid4().hex[:8]}"
    async with build_worker(settings, group=group) as worker:
        names = [check.name for check in worker.checks]
        assert names == ["database", "kafka", "migrations", f"dlq:{group}"]
        readiness = await run_checks(worker.checks)
    # the consumer did not run, so its dead-letter topic is missing: not ready, and it says so
    assert readiness.failing == [f"dlq:{group}"]
