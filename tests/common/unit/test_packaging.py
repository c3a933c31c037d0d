"""A service's wheel carries its Alembic migrations, and the service finds them there: what an
image installs needs no source tree beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from koshiqon.common.migrations import script_location
from koshiqon.devtools.paths import project_root

ROOT = project_root()
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:  # `make` finds or installs uv; a bare pytest run has it on PATH too
        pytest.fail("uv is needed to build the wheels (make install puts it in place)")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_the_wheel_carries_the_migrations_and_the_installed_package_finds_them(
    service: str, tmp_path: Path
) -> None:
    subprocess.run(
        [uv(), "build", "--quiet", "--wheel", "--package", f"koshiqon-{service}", "-o", tmp_path],
        cwd=ROOT,
        check=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    installed = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    versions = ROOT / "services" / service / "src/koshiqon" / service / "migrations/versions"
    sources = sorted(p.name for p in versions.glob("*.py"))
    package = installed / "koshiqon" / service
    found = script_location(str(package / "bootstrap.py"))
    assert found == package / "migrations"
    assert sorted(p.name for p in (found / "versions").glob("*.py")) == sources
    assert (found / "script.py.mako").is_file()


def test_in_the_source_tree_the_migrations_are_inside_the_package() -> None:
    from koshiqon.registration import bootstrap

    expected = ROOT / "services/registration/src/koshiqon/registration/migrations"
    assert script_location(bootstrap.__file__) == expected


def test_a_package_without_migrations_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="no Alembic migrations"):
        script_location(str(tmp_path / "a" / "b" / "c" / "bootstrap.py"))
