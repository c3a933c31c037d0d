"""Every custom resource of both overlays validates against its CRD's published schema, with
unknown fields rejected.

The schemas are not the project's to ship: they are read from `KOSHIQON_CRDS_DIR`, else from
`../shared/crds` beside the checkout (one JSON Schema per kind and version,
`<group>/<kind>_<version>.json`). Where neither exists these tests report themselves skipped
with that reason; everything else in tests/deploy still runs.
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support.k8s import OVERLAYS, ROOT, Manifest, group_of, is_core, name_of, rendered

NO_SCHEMA = {
    ("monitoring.coreos.com", "PrometheusRule"): "the folder has no schema for it; its shape "
    "and its metrics are checked by test_policies.py::test_prometheus_rules_are_well_formed"
}
"""Custom kinds the folder has no schema for, each with where it is checked instead."""


def crds_dir() -> Path:
    configured = os.environ.get("KOSHIQON_CRDS_DIR")
    return Path(configured) if configured else ROOT.parent / "shared" / "crds"


def crds_or_skip() -> Path:
    folder = crds_dir()
    if not folder.is_dir():
        pytest.skip(
            f"CRD schemas not found at {folder} (set KOSHIQON_CRDS_DIR): custom resources "
            "not validated against their schemas"
        )
    return folder


@pytest.fixture(scope="module")
def crds() -> Path:
    return crds_or_skip()


def closed(schema: Any) -> Any:
    """`schema` with unknown fields rejected: every object schema that lists its properties
    and says nothing of others (nor preserves unknown fields, as Kubernetes would) admits no
    other property."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            closed(value)
    elif isinstance(schema, list):
        for value in schema:
            closed(value)
    return schema


@cache
def schema_file(folder: Path, group: str, kind: str, version: str) -> dict[str, Any] | None:
    path = folder / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        return None
    schema: dict[str, Any] = closed(json.loads(path.read_text()))
    return schema


def crd_errors(folder: Path, manifest: Manifest) -> list[str]:
    group, version = group_of(manifest), str(manifest["apiVersion"]).rpartition("/")[2]
    schema = schema_file(folder, group, manifest["kind"], version)
    where = f"{manifest['kind']}/{name_of(manifest)}"
    if schema is None:
        return [] if (group, manifest["kind"]) in NO_SCHEMA else [f"{where}: no schema"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{where} at {'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_their_crd_schemas(crds: Path, overlay: str) -> None:
    custom = [m for m in rendered(overlay) if not is_core(m)]

    assert len(custom) > 20
    assert [error for m in custom for error in crd_errors(crds, m)] == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_custom_kind_has_a_schema_or_says_where_it_is_checked(
    crds: Path, overlay: str
) -> None:
    kinds = {(group_of(m), m["kind"], m["apiVersion"]) for m in rendered(overlay) if not is_core(m)}

    unchecked = {
        (group, kind)
        for group, kind, api in kinds
        if schema_file(crds, group, kind, api.rpartition("/")[2]) is None
    }
    assert unchecked <= set(NO_SCHEMA)


def test_an_unknown_field_is_refused(crds: Path) -> None:
    kafka = next(m for m in rendered("prod") if m["kind"] == "Kafka")
    misspelt = copy.deepcopy(kafka)
    misspelt["spec"]["kafka"]["listners"] = misspelt["spec"]["kafka"].pop("listeners")
    topic = copy.deepcopy(next(m for m in rendered("prod") if m["kind"] == "KafkaTopic"))
    topic["spec"]["partitons"] = 3

    assert crd_errors(crds, kafka) == []
    assert any("listners" in error for error in crd_errors(crds, misspelt))
    assert any("partitons" in error for error in crd_errors(crds, topic))


def test_a_kind_without_a_schema_is_reported(crds: Path) -> None:
    unknown = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaBridge",
        "metadata": {"name": "b"},
    }

    assert crd_errors(crds, unknown) == ["KafkaBridge/b: no schema"]


def test_the_skip_names_the_folder_and_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where the schemas are absent the fixture skips, saying where it looked and how to
    point it elsewhere (never a silent pass)."""
    monkeypatch.setenv("KOSHIQON_CRDS_DIR", str(tmp_path / "absent"))
    with pytest.raises(pytest.skip.Exception, match="KOSHIQON_CRDS_DIR") as skipped:
        crds_or_skip()
    assert str(tmp_path / "absent") in str(skipped.value)
