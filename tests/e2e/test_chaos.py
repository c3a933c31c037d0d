"""Faults with reconciliation at a size that fits the suite (e2e/chaos.py; `make chaos` runs
the same harness at full size): on a private Kafka and PostgreSQL of its own, under a steady
load of registrations and resettlement applications, the broker is SIGKILLed and restarted,
every worker is SIGKILLed and restarted, the leading outbox relay is frozen (SIGSTOP) past
its lease, and PostgreSQL is restarted. Once every consumer group's lag is zero, each
service's tables agree with the others' exactly. Timings are reported, never asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.chaos import Size, private_instance, run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

SMALL = Size(rate=10, seconds=10, stop_seconds=6, lease_seconds=3, drain_timeout=120)


async def test_after_every_kind_of_fault_the_services_reconcile_exactly(tmp_path: Path) -> None:
    report = await run(SMALL, private_instance(), tmp_path / "logs", say=print)
    text = report.render()
    print(text)
    faults = [f.what for f in report.faults]
    assert any(f.startswith("SIGKILL the broker") for f in faults), text
    assert any(f.startswith("restart PostgreSQL") for f in faults), text
    for worker in ("quota-worker", "proposals-worker", "monitoring-worker",
                   "registration-worker", "registration-worker-1"):  # fmt: skip
        assert f"SIGKILL {worker}, start it again" in faults, text
    assert all(f.recovered_after is not None for f in report.faults), text
    [frozen] = [f for f in report.faults if f.what.startswith("SIGSTOP the leading relay")]
    assert "led after" in frozen.note, text  # a standby took the frozen relay's lead
    assert report.drained_after is not None, text
    assert report.landed, text
    assert [row for row in report.rows if not row.holds] == [], text
