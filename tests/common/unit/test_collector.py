"""The garbage collector's settings for a service process (`koshiqon.common.collector`):
the young generation's threshold from the service's settings, the older ones kept, startup's
objects frozen; and `service.run` applying the setting in a real process."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from koshiqon.common import collector
from koshiqon.common.settings import ServiceSettings, service_config


class LabSettings(ServiceSettings):
    model_config = service_config("LAB_")
    service_name: str = "lab"


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@pytest.mark.usefixtures("restored")
def test_tune_sets_the_young_threshold_and_keeps_the_older_ones() -> None:
    gc.set_threshold(700, 11, 12)
    collector.tune(25_000)
    assert gc.get_threshold() == (25_000, 11, 12)
    with pytest.raises(ValueError, match="positive"):
        collector.tune(0)
    assert gc.get_threshold() == (25_000, 11, 12)


@pytest.mark.usefixtures("restored")
def test_freeze_keeps_what_lives_now_out_of_later_collections() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    kept = [[n] for n in range(1000)]  # containers alive at "startup"
    collector.freeze()
    assert gc.get_freeze_count() >= len(kept)
    collected = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    assert all(gc.is_tracked(x) and id(x) not in collected for x in kept)


def test_the_threshold_is_a_setting_with_a_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "test")
    assert LabSettings().gc_young_threshold == collector.DEFAULT_YOUNG_THRESHOLD
    monkeypatch.setenv("LAB_GC_YOUNG_THRESHOLD", "100")
    with pytest.raises(ValidationError, match="gc_young_threshold"):
        LabSettings()


def test_run_applies_the_services_setting_in_its_process() -> None:
    """The quota service's entry point, role `migrate` pointed at nothing listening: the
    threshold is set before any role runs (the migration then fails, which is not what is
    tested here)."""
    script = (
        "import gc, sys\n"
        "from koshiqon.common.service import run\n"
        "from koshiqon.quota.entrypoints.cli import SERVICE\n"
        "try:\n"
        "    run(SERVICE, ['migrate'])\n"
        "except BaseException:\n"
        "    pass\n"
        "print(gc.get_threshold()[0])\n"
    )
    env = {
        **os.environ,
        "KOSHIQON_ENV": "test",
        "QUOTA_GC_YOUNG_THRESHOLD": "12345",
        "QUOTA_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nothing",
        "QUOTA_LOG_LEVEL": "CRITICAL",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "12345", done.stderr
