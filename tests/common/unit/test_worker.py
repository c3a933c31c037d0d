"""The worker runs its components until SIGTERM, and stops them all when one fails."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from koshiqon.common.worker import every, run_components


async def test_sigterm_stops_every_component_after_it_finishes_its_work() -> None:
    finished: list[str] = []

    def component(name: str):  # type: ignore[no-untyped-def]
        async def run(stop: asyncio.Event) -> None:
            await stop.wait()
            await asyncio.sleep(0.05)  # the batch in flight
            finished.append(name)

        return run

    async def terminate_soon() -> None:
        await asyncio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = asyncio.create_task(terminate_soon())
    await asyncio.wait_for(run_components([component("relay"), component("consumer")]), 5)
    await killer
    assert sorted(finished) == ["consumer", "relay"]


async def test_a_failing_component_stops_the_others_and_is_raised() -> None:
    stopped = asyncio.Event()

    async def steady(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.set()

    async def broken(stop: asyncio.Event) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("the broker refused our credentials")

    with pytest.raises(RuntimeError, match="refused our credentials"):
        await asyncio.wait_for(run_components([steady, broken]), 5)
    assert stopped.is_set()


async def test_every_runs_at_start_and_each_interval_and_survives_a_failing_round() -> None:
    rounds: list[int] = []

    async def job() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise ConnectionError("the database is away")

    stop = asyncio.Event()
    task = asyncio.create_task(every(0.05, job, name="selftest.job")(stop))
    await asyncio.sleep(0.28)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert len(rounds) >= 4  # the failed second round did not end the job
