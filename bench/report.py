"""Run every benchmark under bench/ and write bench/REPORT.md; and the result format they use.

    uv run python bench/report.py [--out bench/REPORT.md] [--only outbox_relay,e2e_latency]

`make bench` runs it. Needs the local infrastructure (`make infra-up`); some scripts start
service processes with consumer groups of their own or the services' real ones, so on a
broker shared with other runs take `flock /tmp/koshiqon-stack.lock` around it.

Every script keeps its own human output (shown as it runs) and, given `--json FILE`, also
writes its figures there through `emit`: each figure with its raw baseline measured in the
same run, their ratio, and the target. This script runs each one in turn as its own process
(`python bench/<name>.py --json <tmp>`), collects those files and writes the report: one
table of every figure, the machine (logical cores, CPU model from /proc/cpuinfo, memory,
load average before the run), the date and the commit, each script's exit status and time,
and its console output. A script that fails is reported as failed with its output; the others
still run. The figures are those of one run on whatever else the machine was doing: the
report says what the load was when it started.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPORT = HERE / "REPORT.md"
NOT_BENCHES = {"report"}  # modules here that are not benchmarks


@dataclass(frozen=True)
class Figure:
    """One measured figure against its raw baseline.

    `ratio` is figure/baseline as the script defines it (throughput: higher is better;
    latency: how many times the baseline's, lower is better); `target` says which, in words,
    and `met` whether this run reached it (None: no target set).
    """

    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


@dataclass
class Result:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def emit(
    path: str | None, bench: str, figures: Sequence[Figure], notes: Sequence[str] = ()
) -> None:
    """Write a script's figures to `path` (its `--json` argument); nothing when None."""
    if path is None:
        return
    document = {"bench": bench, "figures": [asdict(f) for f in figures], "notes": list(notes)}
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", metavar="FILE", help="also write the figures to FILE (bench/report.py)"
    )


def load(path: Path) -> Result:
    document = json.loads(path.read_text(encoding="utf-8"))
    figures = [Figure(**figure) for figure in document["figures"]]
    return Result(str(document["bench"]), figures, [str(n) for n in document.get("notes", [])])


# --- running the scripts ------------------------------------------------------------------


@dataclass
class Run:
    name: str
    returncode: int
    seconds: float
    output: str
    result: Result | None


def benches() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in NOT_BENCHES)


def run_one(name: str) -> Run:
    """The script as its own process, its output shown as it comes and kept."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        target = Path(scratch) / f"{name}.json"
        command = [sys.executable, str(HERE / f"{name}.py"), "--json", str(target)]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        returncode = process.wait()
        seconds = time.perf_counter() - started
        result = load(target) if returncode == 0 and target.is_file() else None
    return Run(name, returncode, seconds, "".join(lines), result)


# --- the machine ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpuinfo = _read("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
              if line.startswith("model name")]  # fmt: skip
    meminfo = _read("/proc/meminfo").split()
    memory = f"{int(meminfo[1]) / 1024 / 1024:.1f} GiB" if meminfo[:1] == ["MemTotal:"] else "?"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "logical cores": str(os.cpu_count() or "?"),
        "CPU model": models[0] if models else platform.processor() or "?",
        "memory": memory,
        "load average when the run began (1, 5, 15 min)": ", ".join(f"{x:.2f}" for x in load),
        "system": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


# --- the report -----------------------------------------------------------------------------


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if value else "0"
    return f"{text} {unit}".strip()


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "—"}[met]


def render(runs: Sequence[Run], about: dict[str, str], began: datetime, note: str) -> str:
    out = ["# Benchmark report", ""]
    out.append(
        f"Written by `make bench` (`bench/report.py`) on {began:%Y-%m-%d %H:%M} UTC at commit "
        f"`{commit()}`. Every figure is measured against its raw baseline in the same run "
        "(each script's docstring says what both sides do); no test asserts any of them."
    )
    if note:
        out += ["", note]
    out += ["", "## Machine", ""]
    out += [f"- {key}: {value}" for key, value in about.items()]
    out += ["", "## Figures", ""]
    out.append("| bench | figure | value | raw baseline | baseline's value | ratio | target | |")
    out.append("|---|---|---|---|---|---|---|---|")
    for run in runs:
        if run.result is None:
            out.append(f"| {run.name} | **failed** (exit {run.returncode}) | | | | | | |")
            continue
        for f in run.result.figures:
            ratio = "—" if f.ratio is None else f"{f.ratio:.2f}"
            out.append(
                f"| {run.name} | {f.name} | {number(f.value, f.unit)} | {f.baseline or '—'} "
                f"| {number(f.baseline_value, f.unit)} | {ratio} | {f.target or '—'} "
                f"| {verdict(f.met)} |"
            )
    notes = [(run.name, n) for run in runs if run.result for n in run.result.notes]
    if notes:
        out += ["", "Notes:", ""]
        out += [f"- {name}: {text}" for name, text in notes]
    out += ["", "## Runs", ""]
    for run in runs:
        status = "ok" if run.returncode == 0 else f"failed, exit {run.returncode}"
        printed, logs = console(run.output)
        out += [f"### {run.name} ({status}, {run.seconds:.0f} s)", "", "```"]
        out += printed[-60:]
        out += ["```", ""]
        if logs:
            out += [f"({logs} JSON log records of the service processes left out.)", ""]
    return "\n".join(out).rstrip() + "\n"


def console(output: str) -> tuple[list[str], int]:
    """A script's own lines, and how many structured log records of the services it started
    were among them (shown as the run goes, left out of the report)."""
    lines = [line.rstrip() for line in output.strip().splitlines()]
    own = [line for line in lines if not (line.startswith("{") and '"level"' in line)]
    return own, len(lines) - len(own)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument("--only", help="comma-separated script names (default: every one)")
    parser.add_argument("--note", default="", help="a paragraph for the report's head")
    args = parser.parse_args(argv)
    names = benches()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"no such bench: {', '.join(unknown)} (known: {', '.join(names)})")
        names = wanted
    about = machine()
    began = datetime.now(UTC)
    runs = [run_one(name) for name in names]
    args.out.write_text(render(runs, about, began, args.note), encoding="utf-8")
    print(f"\n{args.out}")
    return 0 if all(run.returncode == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
