"""`KOSHIQON_ENV` unset means production (issue 12, item 21), so everything that runs the
project on a developer's machine or in CI says dev or test: `make`, `./koshiqon`,
`scripts/up.sh`, `scripts/test.sh` and the test suite itself.

The commands run for real, with a stub `uv` first on PATH that records the `KOSHIQON_ENV` it
was started with and does nothing else (so no service, broker or test run starts).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from koshiqon.devtools.paths import project_root

ROOT = project_root()
STUB = """#!/usr/bin/env bash
printf '%s %s\\n' "${KOSHIQON_ENV-<unset>}" "$*" >> "$STUB_LOG"
"""


@pytest.fixture
def stub_uv(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    uv = bin_dir / "uv"
    uv.write_text(STUB)
    uv.chmod(0o755)
    log = tmp_path / "uv.log"
    env = {k: v for k, v in os.environ.items() if k not in ("KOSHIQON_ENV", "UV", "MAKEFLAGS")}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", STUB_LOG=str(log), UV=str(uv))
    return env, log


def environments(log: Path) -> set[str]:
    lines = log.read_text().splitlines()
    assert lines, "the stub uv was never run"
    return {line.split(" ", 1)[0] for line in lines}


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, cwd=ROOT, env=env, check=False, timeout=120, capture_output=True)


def test_the_test_suite_says_test() -> None:
    assert os.environ["KOSHIQON_ENV"] == "test"  # tests/conftest.py


def test_the_wrapper_says_dev(stub_uv: tuple[dict[str, str], Path]) -> None:
    env, log = stub_uv
    run([str(ROOT / "koshiqon"), "infra", "status"], env)
    run([str(ROOT / "koshiqon"), "registration", "migrate"], env)
    assert environments(log) == {"dev"}


def test_the_wrapper_keeps_an_environment_that_is_said(
    stub_uv: tuple[dict[str, str], Path],
) -> None:
    env, log = stub_uv
    run([str(ROOT / "koshiqon"), "quota", "api"], {**env, "KOSHIQON_ENV": "staging"})
    assert environments(log) == {"staging"}


def test_make_says_dev(stub_uv: tuple[dict[str, str], Path]) -> None:
    env, log = stub_uv
    run(["make", "--no-print-directory", "infra-status", f"UV={env['UV']}"], env)
    assert environments(log) == {"dev"}


def test_make_up_says_dev(stub_uv: tuple[dict[str, str], Path]) -> None:
    env, log = stub_uv
    run(["bash", "scripts/up.sh"], env)
    assert environments(log) == {"dev"}


def test_make_test_says_test(stub_uv: tuple[dict[str, str], Path]) -> None:
    env, log = stub_uv
    run(["bash", "scripts/test.sh"], {**env, "KOSHIQON_ENV": "dev"})
    assert "test run --frozen pytest tests" in log.read_text()
    assert environments(log) == {"test"}  # the lint and the infrastructure commands too
