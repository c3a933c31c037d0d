"""The committed event schemas (`contracts/events`, written by `make schemas`) against the
contracts in the code: docs/architecture.md §3, only additive optional fields within a version;
and the AsyncAPI document (`contracts/asyncapi.json`) that points subscribers to them.

Only the real `REGISTRY` is checked, without `selftest` contracts should a test put any there.
"""

from __future__ import annotations

from pathlib import Path

from koshiqon.common.events import REGISTRY, asyncapi
from koshiqon.common.events.contracts import Registry, load_all_contracts
from koshiqon.common.events.schemas import compare_directory, outdated

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
COMMITTED = CONTRACTS / "events"
ASYNCAPI = CONTRACTS / "asyncapi.json"


def service_contracts() -> Registry:
    load_all_contracts()
    registry = Registry()
    for contract in REGISTRY:
        if contract.context != "selftest":
            registry.register(contract)
    return registry


def test_committed_schemas_are_backward_compatible() -> None:
    assert compare_directory(COMMITTED, registry=service_contracts()) == []


def test_every_event_type_has_its_schema_committed() -> None:
    assert outdated(COMMITTED, registry=service_contracts()) == []


def test_committed_asyncapi_document_is_current() -> None:
    assert ASYNCAPI.read_text(encoding="utf-8") == asyncapi.render(service_contracts()), (
        "contracts/asyncapi.json is not current: run `make schemas`"
    )
