"""`koshiqon-monitoring backtest` as a command, on the public series the project ships: it
prints every region, the overall scores and those at each horizon, with the two naive
baselines of the same run."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from support.reference import DATA

from koshiqon.common import kz

pytestmark = pytest.mark.integration


async def backtest(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "koshiqon.monitoring.entrypoints.cli", "backtest", *args,
        env={**os.environ, "KOSHIQON_ENV": "test"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


def scores(out: str, label: str) -> list[float]:
    """points, MAPE, in 80 %, in 95 %, last value MAPE, last growth MAPE of the row."""
    row = next(line for line in out.splitlines() if line.startswith(label))
    return [float(x) for x in row[36:].split()]


async def test_backtest_prints_every_region_and_the_baselines() -> None:
    out = await backtest("--horizon", "2", "--data", str(DATA))
    assert out.startswith("backtest: the last 2 year(s) of every region's 1 January series")
    for region in kz.REGIONS:
        assert f"{region.kato} {region.name_en}" in out
    overall = scores(out, "overall")
    assert overall[0] == 40  # 20 regions, 2 years each
    at_two = scores(out, "at 2 year(s)")
    assert at_two[0] == 20
    assert at_two[1] < at_two[4]  # better than the last value held
    assert 0 <= at_two[2] <= 100


async def test_a_horizon_out_of_range_is_refused() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "koshiqon.monitoring.entrypoints.cli", "backtest", "--horizon", "9",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "--horizon" in err.decode()
