"""The AsyncAPI document (`koshiqon.common.events.asyncapi`) describes what is on the wire:
every event type in its topic's channel, references that resolve, the headers the outbox
relay really writes and envelopes as `make_event` really makes them."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from koshiqon.common import outbox
from koshiqon.common.events import asyncapi
from koshiqon.common.events.contracts import REGISTRY, load_all_contracts, make_event
from koshiqon.common.events.registration import (
    LegalStatus,
    ResettlementCategory,
    ResettlementRequested,
    ResidenceKind,
    ResidenceRegistered,
    StayPurpose,
)
from koshiqon.common.topics import CONTEXT_TOPICS

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    load_all_contracts()
    return json.loads(json.dumps(asyncapi.document()))


def refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], pointer: str) -> Any:
    """The node a local reference names, following references to references."""
    node: Any = document
    for token in pointer.removeprefix("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    if isinstance(node, dict) and set(node) == {"$ref"}:
        return resolve(document, node["$ref"])
    return node


def test_every_event_type_is_a_message_of_its_topics_channel(document: dict[str, Any]) -> None:
    real = [c for c in REGISTRY if c.context != "selftest"]
    for contract in real:
        channel = document["channels"][contract.topic]
        assert contract.type in channel["messages"]
        operation = document["operations"][f"receive-{contract.topic}"]
        assert operation["action"] == "receive"
        listed = {resolve(document, ref["$ref"])["name"] for ref in operation["messages"]}
        assert contract.type in listed
    partitions = {spec.name: spec.partitions for spec in CONTEXT_TOPICS}
    for name, channel in document["channels"].items():
        assert channel["bindings"]["kafka"]["partitions"] == partitions[name]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    found = list(refs(document))
    assert found
    for ref in found:
        if ref.startswith("#/"):
            resolve(document, ref)  # raises KeyError when it does not resolve
        else:
            assert (CONTRACTS / ref).is_file(), f"{ref} is not a committed schema"


def test_the_documented_headers_are_the_ones_the_relay_writes(document: dict[str, Any]) -> None:
    documented = document["components"]["schemas"]["RecordHeaders"]["properties"]
    envelope = make_event(
        _residence_registered(), subject="s", source="/koshiqon/registration", correlation_id="c"
    )
    assert set(documented) == set(outbox._headers(envelope))


@pytest.mark.parametrize("payload", ["residence-registered", "resettlement-requested"])
def test_a_real_envelope_matches_its_message(document: dict[str, Any], payload: str) -> None:
    data = _residence_registered() if payload == "residence-registered" else _requested()
    envelope = make_event(
        data, subject=str(uuid.uuid4()), source="/koshiqon/registration", correlation_id="c-1"
    )
    wire = json.loads(envelope.to_bytes())
    schema = document["components"]["messages"][envelope.type]["payload"]

    assert set(wire) == set(schema["properties"])
    assert set(schema["required"]) <= set(wire)
    for name, rule in schema["properties"].items():
        if "const" in rule:
            assert wire[name] == rule["const"]
        if "pattern" in rule:
            assert re.fullmatch(rule["pattern"], wire[name])
    committed = json.loads((CONTRACTS / schema["properties"]["data"]["$ref"]).read_text())
    assert set(wire["data"]) <= set(committed["properties"])
    assert set(committed.get("required", [])) <= set(wire["data"])


def _residence_registered() -> ResidenceRegistered:
    return ResidenceRegistered(
        residence_id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        legal_status=LegalStatus.FOREIGNER,
        kind=ResidenceKind.TEMPORARY,
        settlement="751110000",
        region="750000000",
        valid_from=date(2026, 3, 1),
        valid_until=date(2026, 9, 1),
        purpose=StayPurpose.WORK,
        labour_migration=True,
    )


def _requested() -> ResettlementRequested:
    return ResettlementRequested(
        application_id=uuid.uuid4(),
        applicant_id=uuid.uuid4(),
        category=ResettlementCategory.KANDAS,
        target_region="590000000",
        target_year=2026,
        persons=3,
        requested_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
