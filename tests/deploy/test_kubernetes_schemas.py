"""Every core object of both overlays passes kubernetes-validate --strict (unknown fields
rejected) for the lowest Kubernetes version the manifests support."""

from __future__ import annotations

import copy

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from support.k8s import LOWEST_KUBERNETES, OVERLAYS, Manifest, is_core, name_of, rendered


def schema_errors(manifest: Manifest) -> list[str]:
    try:
        kubernetes_validate.validate(manifest, LOWEST_KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{manifest['kind']}/{name_of(manifest)}: {error.message}"]
    return []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_are_valid_for_the_lowest_supported_kubernetes(overlay: str) -> None:
    core = [m for m in rendered(overlay) if is_core(m)]

    assert len(core) > 50
    assert [error for m in core for error in schema_errors(m)] == []


def test_an_unknown_field_is_refused() -> None:
    deployment = next(m for m in rendered("prod") if m["kind"] == "Deployment")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}

    assert schema_errors(deployment) == []
    assert schema_errors(misspelt) != []


def test_a_field_newer_than_the_lowest_version_is_refused() -> None:
    """1.30 knows no `resources` at the pod level (1.32): the version is really checked."""
    deployment = copy.deepcopy(next(m for m in rendered("prod") if m["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["resources"] = {"requests": {"cpu": "1"}}

    assert schema_errors(deployment) != []
