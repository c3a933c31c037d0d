"""Commands of the local infrastructure: run until they succeed, and what they said kept."""

from __future__ import annotations

from pathlib import Path

import pytest

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
