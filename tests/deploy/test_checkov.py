"""checkov --framework kubernetes passes on the rendered prod overlay, with only the skips of
deploy/k8s/checkov/config.yaml, each justified in deploy/README.md.

checkov's dependencies would clash with the workspace's, so it runs in an environment of its
own, `uv tool run --from checkov==<pinned> --constraints deploy/k8s/checkov/constraints.txt`,
which uv installs on first use (from PyPI) and keeps in its cache."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.k8s import K8S, ROOT, rendered_text

CHECKOV = K8S / "checkov"
BROKEN = """\
apiVersion: v1
kind: Pod
metadata:
  name: careless
  namespace: koshiqon
spec:
  containers:
    - name: root
      image: busybox:latest
      securityContext:
        privileged: true
"""


def pinned_checkov() -> str:
    (line,) = (
        line
        for line in (CHECKOV / "constraints.txt").read_text().splitlines()
        if line.startswith("checkov==")
    )
    return line


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv runs the tests (`make test`), so it is on PATH or in $UV"
    return found


@cache
def scan(folder: Path) -> dict[str, Any]:
    """checkov over the YAML files of `folder`, its JSON report."""
    result = subprocess.run(
        [
            uv(), "tool", "run", "--from", pinned_checkov(),
            "--constraints", str(CHECKOV / "constraints.txt"), "--python", sys.executable,
            "checkov", "--config-file", str(CHECKOV / "config.yaml"),
            "--directory", str(folder), "--output", "json", "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    (kubernetes,) = [r for r in reports if r["check_type"] == "kubernetes"]
    kubernetes["exit_code"] = result.returncode
    return dict(kubernetes)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("checkov")
    (folder / "prod.yaml").write_text(rendered_text("prod"))
    (folder / "broken.yaml").write_text(BROKEN)
    return scan(folder)


def failed_files(report: dict[str, Any]) -> set[str]:
    return {Path(check["file_path"]).name for check in report["results"]["failed_checks"]}


def test_checkov_passes_on_the_prod_overlay(report: dict[str, Any]) -> None:
    """Every failure checkov reports is in the careless pod written beside the overlay (so
    the scan really judges what it reads): none in the overlay."""
    failed = [c for c in report["results"]["failed_checks"] if c["file_path"].endswith("prod.yaml")]

    assert [f"{c['check_id']} {c['resource']}" for c in failed] == []
    assert report["summary"]["parsing_errors"] == 0
    passed_files = {Path(c["file_path"]).name for c in report["results"]["passed_checks"]}
    assert "prod.yaml" in passed_files
    assert report["summary"]["passed"] > 500
    assert failed_files(report) == {"broken.yaml"}
    assert report["exit_code"] != 0  # the careless pod fails the run


def test_every_skipped_check_is_justified_in_the_readme() -> None:
    skipped = yaml.safe_load((CHECKOV / "config.yaml").read_text())["skip-check"]
    readme = (ROOT / "deploy" / "README.md").read_text()
    section = readme.split("## checkov: skipped checks", 1)[1].split("\n## ", 1)[0]
    justified = re.findall(r"^\| `(CKV[0-9A-Z_]+)` \| .{20,}\|$", section, re.M)

    assert skipped
    assert sorted(justified) == sorted(skipped)
