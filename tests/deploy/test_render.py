"""deploy/k8s renders offline with `kubectl kustomize`, and `make k8s` writes both overlays."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from support.k8s import OVERLAYS, ROOT, SERVICES, kustomize, load_all, name_of, rendered

NAMESPACES = {"dev": "koshiqon-dev", "prod": "koshiqon"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_renders_every_service_and_the_platform(overlay: str) -> None:
    manifests = rendered(overlay)

    kinds = Counter(m["kind"] for m in manifests)
    assert kinds["Deployment"] == 2 * len(SERVICES)
    assert kinds["Job"] == len(SERVICES)
    for kind in ("Kafka", "Cluster", "Pooler", "ObjectStore", "ScheduledBackup", "Database"):
        assert kinds[kind] == 1, kind
    deployments = {name_of(m) for m in manifests if m["kind"] == "Deployment"}
    assert deployments == {f"{s}-{role}" for s in SERVICES for role in ("api", "worker")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_in_the_overlays_namespace_once(overlay: str) -> None:
    manifests = rendered(overlay)

    namespaces = {m["metadata"].get("namespace") for m in manifests if m["kind"] != "Namespace"}
    assert namespaces == {NAMESPACES[overlay]}
    (namespace,) = (m for m in manifests if m["kind"] == "Namespace")
    assert name_of(namespace) == NAMESPACES[overlay]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    keys = Counter((m["apiVersion"], m["kind"], name_of(m)) for m in manifests)
    assert [key for key, count in keys.items() if count > 1] == []


def test_a_broken_kustomization_fails_the_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - absent.yaml\n")
    with pytest.raises(RuntimeError, match=r"absent\.yaml"):
        kustomize(tmp_path)


def test_make_k8s_writes_both_overlays(tmp_path: Path) -> None:
    make, uv = shutil.which("make"), shutil.which("uv")
    assert make is not None, "make is a prerequisite"
    env = {**os.environ, **({"UV": uv} if uv else {})}
    result = subprocess.run(
        [make, "--no-print-directory", "k8s", f"K8S_OUT={tmp_path}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    for overlay in OVERLAYS:
        written = tmp_path / f"{overlay}.yaml"
        assert str(written) in result.stdout
        assert load_all(written.read_text()) == rendered(overlay)
