"""`koshiqon stack up|down|status|logs|tokens` (what `make up`, `make down`, `make status` and
`make logs` run).

`up` starts what is missing and returns once everything answers ready, as
`docker compose up -d` does: the local Kafka and PostgreSQL (`infra up`, which also creates
the topics), each service's schema migrated, monitoring's reference figures, the supervisor
(detached) with the eight processes, and the demo data set; then it prints the URLs and a
token per role. Run again, it finds the running stack, starts nothing twice and skips the
demo data it has loaded. `down` stops the supervisor and its processes, and the
infrastructure if this stack's `up` started it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from koshiqon.common.kz import kz_today
from koshiqon.common.settings import DEFAULT_KAFKA_BOOTSTRAP
from koshiqon.devtools.infra import cli as infra_cli
from koshiqon.devtools.infra import kafka, postgres
from koshiqon.devtools.infra.process import is_alive, live_pid
from koshiqon.devtools.paths import project_root
from koshiqon.devtools.stack import demo, layout
from koshiqon.devtools.stack.lag import group_lag
from koshiqon.devtools.stack.layout import GROUPS, SERVICES, StackPaths
from koshiqon.devtools.stack.load import LoadFailed, Urls, load
from koshiqon.devtools.stack.roles import ROLES, Tokens

SUPERVISOR_MODULE = "koshiqon.devtools.stack.supervisor"
READY_TIMEOUT = 240.0
STOP_TIMEOUT = 45.0

console = Console(highlight=False)
if not console.is_terminal:  # CI, a pipe: no bars, and lines as long as a log's
    console.width = 160


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stack = subparsers.add_parser("stack", help="the whole system, with demo data")
    stack.add_argument(
        "--root", type=Path, default=None, help="the stack's state folder (default .local/stack)"
    )
    actions = stack.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start everything, load the demo data, wait until ready")
    up.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="the demo data's seed")
    up.add_argument("--demo-size", type=int, default=demo.DEFAULT_SIZE, metavar="PERSONS",
                    help=f"synthetic persons (at least {demo.MIN_PER_REGION * 20})")  # fmt: skip
    up.add_argument("--no-demo", action="store_true", help="no demo data")
    up.add_argument("--port-base", type=int, default=layout.STANDARD_BASE,
                    help="APIs on BASE+1..BASE+4, worker probes 1000 above (8000)")  # fmt: skip
    up.set_defaults(func=_up)
    down = actions.add_parser("down", help="stop what up started")
    down.add_argument("--keep-infra", action="store_true", help="leave Kafka and PostgreSQL")
    down.set_defaults(func=_down)
    actions.add_parser(
        "status", help="each process: pid, uptime, restarts, health, lag"
    ).set_defaults(func=_status)
    logs = actions.add_parser("logs", help="follow every process's log, prefixed by its name")
    logs.add_argument("--lines", type=int, default=10, help="lines of each log shown first")
    logs.add_argument("--no-follow", action="store_true", help="print and return")
    logs.set_defaults(func=_logs)
    actions.add_parser("tokens", help="print a fresh development token per role").set_defaults(
        func=_tokens
    )


def paths_of(args: argparse.Namespace) -> StackPaths:
    return StackPaths(args.root.resolve()) if args.root else layout.default_paths()


def supervisor_pid(paths: StackPaths) -> int | None:
    return live_pid(paths.pid_file, marker=SUPERVISOR_MODULE)


def read_json(path: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return found


def _step(text: str) -> None:
    console.print(f"[bold cyan]==>[/] {text}")


# --- up --------------------------------------------------------------------------------------


def _up(args: argparse.Namespace) -> int:
    began = time.monotonic()
    paths = paths_of(args)
    paths.root.mkdir(parents=True, exist_ok=True)
    running = supervisor_pid(paths)
    config = read_json(paths.config_file)
    if running is not None:
        base = int(config.get("port_base", layout.STANDARD_BASE))
        console.print(f"the stack runs already (supervisor {running}, ports {base + 1}-{base + 4})")
        if base != args.port_base:
            console.print(f"[yellow]it runs on base {base}: --port-base {args.port_base} ignored")
    else:
        base = args.port_base
    _step("Kafka and PostgreSQL, the topics")
    started = infra_cli.up()
    if started:
        paths.infra_marker.write_text(" ".join(started) + "\n")
    console.print("  started: " + (", ".join(started) if started else "nothing (running)"))
    if running is None:
        _step("migrations")
        for service in SERVICES:
            _run_checked([_script(service), "migrate"], f"{service} migrate")
            console.print(f"  {service}: at head")
        _step("monitoring's reference figures (data/)")
        _run_checked([_script("monitoring"), "load-reference"], "monitoring load-reference")
        _step("the supervisor and its 8 processes (api and worker of each service)")
        pid = _start_supervisor(paths, base)
        paths.config_file.write_text(json.dumps({"port_base": base}))
        console.print(f"  supervisor {pid}; logs in {paths.logs}")
    _step("waiting until every process answers ready")
    if not _wait_ready(paths, base):
        return 1
    if not args.no_demo:
        code = _demo(paths, base, seed=args.seed, size=args.demo_size)
        if code:
            return code
    _summary(base, time.monotonic() - began)
    return 0


def _script(service: str) -> str:
    beside = Path(sys.executable).parent / f"koshiqon-{service}"
    return str(beside) if beside.exists() else f"koshiqon-{service}"


def _run_checked(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        console.print(f"[red]{what} failed ({done.returncode}):[/]\n{done.stderr[-3000:]}")
        raise SystemExit(1)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("KOSHIQON_ENV", "dev")
    env.setdefault("KOSHIQON_HOME", str(project_root()))
    return env


def _start_supervisor(paths: StackPaths, base: int) -> int:
    """The supervisor, detached: its own session (so its own process group), no terminal,
    its output in supervisor.log."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.state_file.unlink(missing_ok=True)
    with paths.supervisor_log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", SUPERVISOR_MODULE, "--root", str(paths.root),
             "--base", str(base)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=_env(), close_fds=True,
        )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not paths.state_file.exists():
        if process.poll() is not None:
            console.print(f"[red]the supervisor exited ({process.returncode}): see "
                          f"{paths.supervisor_log}")  # fmt: skip
            raise SystemExit(1)
        time.sleep(0.1)
    return process.pid


def specs_of(base: int) -> list[layout.ProcessSpec]:
    return layout.process_specs(base=base, token_url="", client_secret="")


def _probe(url: str) -> tuple[bool, str]:
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError as error:
        return False, type(error).__name__
    return response.status_code == 200, str(response.status_code)


def _wait_ready(paths: StackPaths, base: int) -> bool:
    specs = specs_of(base)
    ready: set[str] = set()
    deadline = time.monotonic() + READY_TIMEOUT
    with _progress() as bar:
        task = bar.add_task("ready", total=len(specs))
        while len(ready) < len(specs) and time.monotonic() < deadline:
            for spec in specs:
                if spec.name not in ready and _probe(spec.ready_url)[0]:
                    ready.add(spec.name)
                    bar.advance(task)
                    if not console.is_terminal:
                        console.print(f"  {spec.name} ready")
            time.sleep(0.3)
    missing = [s for s in specs if s.name not in ready]
    for spec in missing:
        console.print(f"[red]{spec.name} is not ready ({_probe(spec.ready_url)[1]}); its log:")
        console.print(_tail(paths.log_of(spec.name), 15), markup=False)
    return not missing


def _progress() -> Progress:
    return Progress(
        TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, disable=not console.is_terminal,
    )  # fmt: skip


def _demo(paths: StackPaths, base: int, *, seed: int, size: int) -> int:
    urls = _urls(base)
    marker = read_json(paths.demo_marker)
    if marker.get("seed") == seed and marker.get("size") == size and _demo_present(urls, marker):
        _step(f"demo data (seed {seed}, {size} persons): loaded already, on {marker['loaded_at']}")
        return 0
    plan = demo.build(seed=seed, size=size, today=kz_today(datetime.now(UTC)))
    _step(f"demo data: seed {seed}, {len(plan.persons)} persons, {plan.requests} requests")
    began = time.monotonic()
    with _progress() as bar:
        task = bar.add_task("demo data", total=plan.requests)
        done = [0]

        def advance(n: int) -> None:
            bar.advance(task, n)
            done[0] += n
            if not console.is_terminal and done[0] // 1000 != (done[0] - n) // 1000:
                console.print(f"  {done[0]} of {plan.requests} requests")

        try:
            report = asyncio.run(load(plan, urls, Tokens(), data_dir=project_root() / "data",
                                      progress=advance))  # fmt: skip
        except LoadFailed as error:
            console.print(f"[red]the demo data could not be loaded: {error}")
            return 1
    console.print(f"  {report.persons} persons, {report.steps} registrations, moves and "
                  f"emigrations in {time.monotonic() - began:.0f} s")  # fmt: skip
    console.print(f"  applications: {_counts(report.applications)}")
    console.print(f"  proposals: {_counts(report.proposals)}")
    for note in report.notes:
        console.print(f"  [yellow]{note}")
    first = plan.persons[0].iin
    paths.demo_marker.write_text(json.dumps({
        "seed": seed, "size": size, "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "first_iin": first, "report": report.as_dict(),
    }, indent=2))  # fmt: skip
    return 0


def _demo_present(urls: Urls, marker: dict[str, Any]) -> bool:
    """The marker's first person is still in the register (a wiped database is not)."""
    token = ROLES[2].token()
    try:
        response = httpx.get(
            f"{urls.registration}/v1/persons", params={"iin": marker.get("first_iin", "")},
            headers={"Authorization": f"Bearer {token}"}, timeout=5.0,
        )  # fmt: skip
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and bool(response.json().get("items"))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _urls(base: int) -> Urls:
    return Urls(*(f"http://127.0.0.1:{layout.api_port(s, base)}" for s in SERVICES))


def _summary(base: int, seconds: float) -> None:
    console.print(f"\n[bold green]Koshi-qon is up[/] ({seconds:.0f} s)\n")
    for service in SERVICES:
        url = f"http://127.0.0.1:{layout.api_port(service, base)}"
        console.print(f"  {service:<13} {url}   docs {url}/docs")
    console.print(f"  {'dashboard':<13} http://127.0.0.1:{layout.api_port('monitoring', base)}"
                  "/dashboard")  # fmt: skip
    console.print("\nDevelopment tokens (an hour each; `make tokens` or "
                  "`./koshiqon stack tokens` for fresh ones):")  # fmt: skip
    _print_tokens()
    console.print("\n`make status` shows each process, `make logs` follows them, `make down` "
                  "stops everything.")  # fmt: skip


def _print_tokens() -> None:
    for role in ROLES:
        where = f"region {role.region}" if role.region else "nationwide"
        console.print(f"\n  # {role.title} ({where}): {' '.join(role.scopes)}")
        console.print(f"  export KOSHIQON_TOKEN_{role.name.upper()}={role.token()}",
                      soft_wrap=True, markup=False)  # fmt: skip


def _tokens(_: argparse.Namespace) -> int:
    _print_tokens()
    return 0


# --- down ------------------------------------------------------------------------------------


def _down(args: argparse.Namespace) -> int:
    paths = paths_of(args)
    pid = supervisor_pid(paths)
    stopped = []
    if pid is not None:
        stop_supervisor(pid)
        stopped.append(f"the supervisor {pid} and its processes")
    paths.pid_file.unlink(missing_ok=True)
    if paths.infra_marker.exists() and not args.keep_infra:
        for name, stop in (("kafka", kafka.stop), ("postgres", postgres.stop)):
            if stop():
                stopped.append(name)
        paths.infra_marker.unlink()
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing (not running)"))
    return 0


def stop_supervisor(pid: int) -> None:
    """SIGTERM to the supervisor, which stops its processes; what is left of its process
    group after STOP_TIMEOUT gets SIGKILL (a supervisor killed hard leaves its children)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # its own session: the group id is its pid


# --- status ----------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    paths = paths_of(args)
    pid = supervisor_pid(paths)
    if pid is None:
        console.print("the stack is not running (`make up` starts it)")
        return 3
    state = read_json(paths.state_file)
    base = int(read_json(paths.config_file).get("port_base", layout.STANDARD_BASE))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA_BOOTSTRAP)
    lags = asyncio.run(group_lag(bootstrap, GROUPS))
    table = Table(title=f"supervisor {pid}, up since {state.get('started_at', '?')}")
    for column in ("process", "pid", "uptime", "restarts", "health", "consumer lag"):
        table.add_column(column)
    healthy = True
    for spec in specs_of(base):
        row = state.get("processes", {}).get(spec.name, {})
        ok, said = _probe(spec.ready_url)
        healthy &= ok
        lag = "" if spec.role == "api" else _lag_text(spec.service, lags.get(spec.service))
        table.add_row(
            spec.name, str(row.get("pid") or "-"), _uptime(row), str(row.get("restarts", 0)),
            f"ready ({spec.port})" if ok else f"[red]not ready ({said})[/]", lag,
        )  # fmt: skip
    console.print(table)
    return 0 if healthy else 1


def _lag_text(group: str, lag: int | None) -> str:
    return f"{group}: " + ("unknown" if lag is None else str(lag))


def _uptime(row: dict[str, Any]) -> str:
    if row.get("status") != "running" or not row.get("started_at"):
        return str(row.get("status", "-"))
    seconds = int((datetime.now(UTC) - datetime.fromisoformat(row["started_at"])).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return (
        f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"
    )


# --- logs ------------------------------------------------------------------------------------


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _logs(args: argparse.Namespace) -> int:
    paths = paths_of(args)
    names = [s.name for s in specs_of(layout.STANDARD_BASE)]
    width = max(len(n) for n in names)
    follower = LogFollower({n: paths.log_of(n) for n in names}, lines=args.lines)
    for name, line in follower.backlog():
        _print_line(name, line, width)
    if args.no_follow:
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            for name, line in follower.new_lines():
                _print_line(name, line, width)
            time.sleep(0.25)
    return 0


def _print_line(name: str, line: str, width: int) -> None:
    colour = ("cyan", "magenta", "green", "yellow")[hash(name.split("-")[0]) % 4]
    console.print(f"[{colour}]{name:<{width}}[/] | ", end="")
    console.print(line, markup=False, highlight=False, soft_wrap=True)


class LogFollower:
    """tail -F over several files: new lines as they come, a file that is replaced or
    truncated read again from its start, one that appears late picked up."""

    def __init__(self, files: dict[str, Path], *, lines: int) -> None:
        self.files = files
        self.lines = lines
        self.offsets: dict[str, tuple[int, int]] = {}  # name -> (inode, offset)

    def backlog(self) -> list[tuple[str, str]]:
        out = []
        for name, path in self.files.items():
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                text = path.read_bytes().decode(errors="replace")
                out += [(name, line) for line in text.splitlines()[-self.lines :]]
                self.offsets[name] = (stat.st_ino, stat.st_size)
        return out

    def new_lines(self) -> list[tuple[str, str]]:
        out = []
        for name, path in self.files.items():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            inode, offset = self.offsets.get(name, (stat.st_ino, 0))
            if inode != stat.st_ino or stat.st_size < offset:
                offset = 0
            if stat.st_size == offset:
                self.offsets[name] = (stat.st_ino, offset)
                continue
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
            complete = chunk.rfind(b"\n") + 1  # a half-written line waits for its end
            out += [(name, line) for line in chunk[:complete].decode(errors="replace").splitlines()]
            self.offsets[name] = (stat.st_ino, offset + complete)
        return out
