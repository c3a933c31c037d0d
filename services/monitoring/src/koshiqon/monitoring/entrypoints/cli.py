"""`koshiqon-monitoring api|worker|migrate|all|rebuild|load-reference` (default port 8004).

`rebuild` replays every topic into fresh projection tables and swaps them in (the worker
and the API may keep running); `load-reference [--data DIR]` loads the public figures of
`data/` (adapters/reference.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from koshiqon.common import logs
from koshiqon.common.service import ServiceDefinition, run, service_engine
from koshiqon.monitoring.adapters.rebuild import rebuild
from koshiqon.monitoring.adapters.reference import data_dir, load_reference
from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app, build_worker, sql_bus
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain import commands as c
from koshiqon.monitoring.entrypoints.consumer import GROUP

# name, settings, app, worker, migrations
SERVICE = ServiceDefinition("monitoring", MonitoringSettings, build_app, build_worker, MIGRATIONS)
OWN = ("rebuild", "load-reference")


async def _rebuild(settings: MonitoringSettings) -> None:
    engine = service_engine(settings, role="rebuild")
    try:
        report = await rebuild(
            engine, bootstrap=settings.kafka_bootstrap_servers, topics=settings.topics,
            group=GROUP, batch_size=settings.rebuild_batch_size,
        )  # fmt: skip
        changed = await sql_bus(engine).handle(c.EvaluateOutflow(actor=c.WORKER))
    finally:
        await engine.dispose()
    print(
        f"rebuilt: {report.replayed} events replayed, {report.duplicates} duplicates, "
        f"{report.skipped} skipped, {report.seconds:.1f} s; {changed} alert(s) changed"
    )


async def _load_reference(settings: MonitoringSettings, data: Path) -> None:
    engine = service_engine(settings, role="load-reference")
    try:
        for step, result in await load_reference(sql_bus(engine), data):
            print(
                f"{step.file} ({step.dataset.value}): {result.added} added, "
                f"{result.replaced} replaced, {result.unchanged} unchanged, {result.kept} kept"
            )
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in OWN:
        raise SystemExit(run(SERVICE, args))
    parser = argparse.ArgumentParser(prog="koshiqon-monitoring")
    parser.add_argument("role", choices=OWN)
    parser.add_argument("--data", type=Path, default=None, help="load-reference: the data dir")
    parsed = parser.parse_args(args)
    settings = MonitoringSettings()
    logs.configure("monitoring", settings.log_level)
    if parsed.role == "rebuild":
        uvloop.run(_rebuild(settings))
    else:
        uvloop.run(_load_reference(settings, parsed.data or data_dir()))
    raise SystemExit(0)


if __name__ == "__main__":
    main()
