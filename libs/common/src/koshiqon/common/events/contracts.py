"""Typed event payloads and the registry that maps an event `type` to its contract.

docs/architecture.md §3: one topic per publishing context, versioned type names
(`kz.migration.<context>.<event>.v<N>`), the aggregate id as subject and Kafka key.

A service's wire contracts live in `koshiqon.common.events.<context>` and declare payloads::

    @event("registration", "person-moved")
    class PersonMoved(EventPayload):
        person_id: UUID
        to_kato: str

Producers call `make_event(payload, subject=..., ...)`; consumers call `decode(envelope)`.
"""

from __future__ import annotations

import builtins
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from koshiqon.common.errors import PermanentEventError
from koshiqon.common.events.envelope import TYPE_PATTERN, Envelope

TOPICS: dict[str, str] = {
    "registration": "registration.v1",
    "quota": "quota.v1",
    "proposals": "proposals.v1",
    "monitoring": "monitoring.v1",
}

_PACKAGE = __name__.rpartition(".")[0]


def topic_for(context: str) -> str:
    """The one topic a publishing context writes to."""
    try:
        return TOPICS[context]
    except KeyError:
        raise ValueError(
            f"no topic for context {context!r}: known are {sorted(TOPICS)}, "
            "or pass topic= explicitly"
        ) from None


class EventPayload(BaseModel):
    """The `data` of one event type. Tolerates fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    contract: ClassVar[EventContract]


@dataclass(frozen=True)
class EventContract:
    """What an event type is: its name, where it is published, and its payload model."""

    type: str
    context: str
    name: str
    version: int
    topic: str
    payload: builtins.type[EventPayload]  # `type` is the event type field here


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Registry:
    """Event type -> contract. The module-level `REGISTRY` holds the real contracts."""

    def __init__(self) -> None:
        self._contracts: dict[str, EventContract] = {}

    def register(self, contract: EventContract) -> None:
        """Add a contract. Re-registering the same class (a module reload) replaces it."""
        known = self._contracts.get(contract.type)
        if known is not None and _class_path(known.payload) != _class_path(contract.payload):
            raise ValueError(
                f"event type {contract.type} is already registered by "
                f"{_class_path(known.payload)}, cannot register {_class_path(contract.payload)}"
            )
        self._contracts[contract.type] = contract

    def get(self, type_: str) -> EventContract:
        try:
            return self._contracts[type_]
        except KeyError:
            raise PermanentEventError(f"unknown event type {type_!r}") from None

    def types(self) -> list[str]:
        return sorted(self._contracts)

    def __iter__(self) -> Iterator[EventContract]:
        return iter([self._contracts[type_] for type_ in self.types()])

    def __contains__(self, type_: object) -> bool:
        return type_ in self._contracts

    def __len__(self) -> int:
        return len(self._contracts)


REGISTRY = Registry()

P = TypeVar("P", bound=EventPayload)


def event(
    context: str,
    name: str,
    *,
    version: int = 1,
    topic: str | None = None,
    registry: Registry | None = None,
) -> Callable[[type[P]], type[P]]:
    """Declare a payload class as the contract of `kz.migration.<context>.<name>.v<version>`."""
    contract_topic = _checked_topic(context, topic)
    type_ = f"kz.migration.{context}.{name}.v{version}"
    if version < 1 or not TYPE_PATTERN.match(type_):
        raise ValueError(f"invalid event type {type_!r}: context [a-z]+, name [a-z0-9-]+")

    def register(cls: type[P]) -> type[P]:
        contract = EventContract(
            type=type_,
            context=context,
            name=name,
            version=version,
            topic=contract_topic,
            payload=cls,
        )
        (REGISTRY if registry is None else registry).register(contract)
        cls.contract = contract
        return cls

    return register


def _checked_topic(context: str, topic: str | None) -> str:
    if topic is None:
        return topic_for(context)
    if context in TOPICS and topic != TOPICS[context]:
        raise ValueError(f"context {context!r} publishes to {TOPICS[context]!r}, not {topic!r}")
    return topic


def contract_of(payload_class: type[EventPayload]) -> EventContract:
    """The contract declared on the class itself (a subclass does not inherit it)."""
    contract = payload_class.__dict__.get("contract")
    if not isinstance(contract, EventContract):
        raise TypeError(f"{_class_path(payload_class)} is not declared with @event(...)")
    return contract


def make_event(
    payload: EventPayload,
    *,
    subject: str,
    source: str,
    correlation_id: str,
    traceparent: str | None = None,
) -> Envelope:
    """Wrap a payload in its envelope. `subject` is the aggregate id and the Kafka key."""
    if not subject:
        raise ValueError("subject (the aggregate id) must not be empty")
    contract = contract_of(type(payload))
    fields = {
        "source": source,
        "type": contract.type,
        "subject": subject,
        "correlationid": correlation_id,
        "data": payload.model_dump(mode="json"),
    }
    if traceparent is not None:
        fields["traceparent"] = traceparent
    return Envelope.model_validate(fields)


def decode(envelope: Envelope, *, registry: Registry | None = None) -> EventPayload:
    """The typed payload of an envelope; an unknown type or invalid data is permanent."""
    contract = (REGISTRY if registry is None else registry).get(envelope.type)
    try:
        return contract.payload.model_validate(envelope.data)
    except ValidationError as exc:
        raise PermanentEventError(
            f"invalid data for {envelope.type}: {_describe_errors(exc)}"
        ) from exc


def _describe_errors(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "<data>"
        problems.append(f"{path}: {error['msg']}")
    return "; ".join(problems)


def load_all_contracts() -> list[str]:
    """Import every `koshiqon.common.events.<context>` module that exists, so the registry
    holds all contracts (for schema export). Returns the imported module names."""
    here = str(Path(__file__).parent)
    modules = sorted(
        f"{_PACKAGE}.{info.name}" for info in pkgutil.iter_modules([here]) if info.name in TOPICS
    )
    for module in modules:
        importlib.import_module(module)
    return modules
