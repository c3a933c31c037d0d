"""bench/report.py, the collector behind `make bench`: every script under bench/ takes
`--json`, what a script emits is what the report reads back, and the report shows each
figure with its baseline, ratio and target, the machine and a failed script as failed.
No benchmark runs here, and no figure is asserted."""

from __future__ import annotations

import ast
import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


report = _load()


def test_every_script_under_bench_is_run() -> None:
    scripts = {path.stem for path in BENCH.glob("*.py")} - {"report"}
    assert set(report.benches()) == scripts
    assert "e2e_latency" in scripts


@pytest.mark.parametrize("name", report.benches())
def test_every_bench_takes_json_and_emits_its_figures(name: str) -> None:
    """Read from the source: running a script, even for --help, imports the services."""
    tree = ast.parse((BENCH / f"{name}.py").read_text(encoding="utf-8"))
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"add_json_argument", "emit"} <= called


def test_what_a_script_emits_the_report_reads(tmp_path: Path) -> None:
    figure = report.Figure(
        "relay", 7000.0, "events/s", "raw producer", 10000.0, 0.7, "relay/raw >= 0.70", True
    )
    path = tmp_path / "out.json"
    report.emit(str(path), "outbox_relay", [figure], ["a note"])
    loaded = report.load(path)
    assert loaded.bench == "outbox_relay"
    assert loaded.figures == [figure]
    assert loaded.notes == ["a note"]
    report.emit(None, "outbox_relay", [figure])  # no --json: nothing written, no error


def test_the_report_shows_figures_baselines_ratios_targets_and_the_machine() -> None:
    good = report.Result(
        "outbox_relay",
        [
            report.Figure("relay", 7000.0, "events/s", "raw producer", 20000.0, 0.35,
                          "relay/raw >= 0.70", False),
            report.Figure("p99", 180.0, "ms", target="p99 <= 250 ms", met=True),
        ],
        ["loaded machine"],
    )  # fmt: skip
    runs = [
        report.Run(
            "outbox_relay",
            0,
            12.0,
            'raw: 20000 events/s\n{"time": "t", "level": "warning"}\n',
            good,
        ),
        report.Run("quota_contention", 1, 3.0, "Traceback: boom\n", None),
    ]
    about = {"logical cores": "2", "CPU model": "AMD EPYC"}
    text = report.render(runs, about, datetime(2026, 12, 2, 3, 0, tzinfo=UTC), "shared host")

    assert "2026-12-02 03:00 UTC" in text
    assert "- logical cores: 2" in text
    assert "- CPU model: AMD EPYC" in text
    assert "shared host" in text
    row = next(line for line in text.splitlines() if line.startswith("| outbox_relay | relay"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == ["outbox_relay", "relay", "7,000 events/s", "raw producer",
                     "20,000 events/s", "0.35", "relay/raw >= 0.70", "**not met**"]  # fmt: skip
    assert "| outbox_relay | p99 | 180 ms | — | — | — | p99 <= 250 ms | met |" in text
    assert "| quota_contention | **failed** (exit 1) |" in text
    assert "Traceback: boom" in text  # a failed script's output is in the report
    assert "- outbox_relay: loaded machine" in text
    assert "raw: 20000 events/s" in text
    assert '"level"' not in text  # the services' log records are left out, and counted
    assert "(1 JSON log records of the service processes left out.)" in text


def test_the_machine_is_read_from_the_system() -> None:
    about = report.machine()
    assert int(about["logical cores"]) >= 1
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "model name" in cpuinfo.read_text():
        model = next(
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        )
        assert about["CPU model"] == model
