"""`koshiqon-monitoring api|worker|migrate|all|rebuild|load-reference|backtest` (default port
8004).

`rebuild` replays every topic into fresh projection tables and swaps them in (the worker
and the API may keep running); `load-reference [--data DIR]` loads the public figures of
`data/` (adapters/reference.py); `backtest [--horizon 2] [--data DIR]` holds back the last
years of the population series of `data/` and prints how well the §9 forecast and two naive
forecasts predict them (docs/forecast.md; no database needed)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from koshiqon.common import kz, logs
from koshiqon.common.service import ServiceDefinition, run, service_engine
from koshiqon.monitoring.adapters.rebuild import rebuild
from koshiqon.monitoring.adapters.reference import data_dir, load_reference, population_figures
from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app, build_worker, sql_bus
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain import backtest, forecast
from koshiqon.monitoring.domain import commands as c
from koshiqon.monitoring.entrypoints.consumer import GROUP

# name, settings, app, worker, migrations
SERVICE = ServiceDefinition("monitoring", MonitoringSettings, build_app, build_worker, MIGRATIONS)
OWN = ("rebuild", "load-reference", "backtest")


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


def _backtest(data: Path, horizon: int) -> None:
    series = forecast.regional_series(population_figures(data))
    result = backtest.run(series, horizon)
    print(
        f"backtest: the last {horizon} year(s) of every region's 1 January series held back "
        f"and forecast from the years before ({data})"
    )
    d = result.dynamics
    print(
        f"damped: phi {d.phi:.4f}, growth-rate innovation sd {d.sigma:.5f}, weight {d.weight:.3f}; "
        f"undamped: sd {d.unit_sigma:.5f}, weight {1 - d.weight:.3f} "
        f"({d.pairs} pairs of yearly growth rates)"
    )
    print(f"{'':36}{'points':>7}{'MAPE %':>9}{'in 80 %':>9}{'in 95 %':>9}"
          f"{'last value %':>14}{'last growth %':>15}")  # fmt: skip
    for kato, score in result.by_region().items():
        print(_row(f"{kato} {kz.region_by_kato(kato).name_en}", score))
    print(_row("overall", result.score()))
    for h in range(1, horizon + 1):
        print(_row(f"at {h} year(s)", result.at_horizon(h)))
    if result.skipped:
        print(f"too few years to hold any back: {', '.join(result.skipped)}")


def _row(label: str, s: backtest.Score) -> str:
    return (
        f"{label:36}{s.points:>7}{s.mape:>9.3f}{s.coverage_80:>9.1f}{s.coverage_95:>9.1f}"
        f"{s.mape_last_value:>14.3f}{s.mape_last_growth:>15.3f}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in OWN:
        raise SystemExit(run(SERVICE, args))
    parser = argparse.ArgumentParser(prog="koshiqon-monitoring")
    parser.add_argument("role", choices=OWN)
    parser.add_argument("--data", type=Path, default=None, help="the data dir (default: data/)")
    parser.add_argument(
        "--horizon", type=int, default=2, choices=range(1, 6), metavar="1..5",
        help="backtest: the years held back",
    )  # fmt: skip
    parsed = parser.parse_args(args)
    if parsed.role == "backtest":
        _backtest(parsed.data or data_dir(), parsed.horizon)
        raise SystemExit(0)
    settings = MonitoringSettings()
    logs.configure("monitoring", settings.log_level)
    if parsed.role == "rebuild":
        uvloop.run(_rebuild(settings))
    else:
        uvloop.run(_load_reference(settings, parsed.data or data_dir()))
    raise SystemExit(0)


if __name__ == "__main__":
    main()
