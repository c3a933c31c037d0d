"""Running a service's worker: its outbox relay and consumers side by side until SIGTERM.

Each component is a coroutine function taking the shared `stop` event. SIGTERM or SIGINT sets
it; every component then finishes what it has in flight (the consumer its batch and offset
commit, the relay its acknowledged rows) and returns. When one component fails, the others
are stopped too and the failure is raised, so the process exits non-zero and the platform
restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import overload

from koshiqon.common.health import ReadinessCheck

log = logging.getLogger("koshiqon.worker")

Component = Callable[[asyncio.Event], Awaitable[None]]


class Worker(Sequence[Component]):
    """A worker's components, and the readiness checks its probe answers `/readyz` with
    (the database, the brokers, each consumer's dead-letter topic). A sequence of its
    components, so that it runs wherever a list of components does."""

    def __init__(
        self, components: Iterable[Component], *, checks: Iterable[ReadinessCheck] = ()
    ) -> None:
        self.components = tuple(components)
        self.checks = tuple(checks)

    @overload
    def __getitem__(self, index: int) -> Component: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Component]: ...
    def __getitem__(self, index: int | slice) -> Component | Sequence[Component]:
        return self.components[index]

    def __len__(self) -> int:
        return len(self.components)

    def __iter__(self) -> Iterator[Component]:
        return iter(self.components)


async def run_components(
    components: Sequence[Component], *, stop: asyncio.Event | None = None
) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(_run(component, stop)) for component in components]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        log.info("worker.stopped")


async def _run(component: Component, stop: asyncio.Event) -> None:
    name = getattr(component, "__qualname__", repr(component))
    log.info("worker.component-started", extra={"component": name})
    try:
        await component(stop)
    except Exception:
        log.exception("worker.component-failed", extra={"component": name})
        raise


def every(seconds: float, job: Callable[[], Awaitable[object]], *, name: str) -> Component:
    """A component that runs `job` at start and then every `seconds` until stop. A round that
    fails (the database away, say) is logged and the job runs again next round."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await job()
            except Exception as error:
                log.warning(
                    "worker.job-failed", extra={"job": name, "error_type": type(error).__name__}
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)

    run.__qualname__ = name
    return run
