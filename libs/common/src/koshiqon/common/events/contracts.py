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
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from koshiqon.common.errors import PermanentEventError
from koshiqon.common.events.envelope import TRACEPARENT_PATTERN, TYPE_PATTERN, Envelope
from koshiqon.common.trace import new_traceparent

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
    unset: Collection[str] = (),
) -> Envelope:
    """Wrap a payload in its envelope. `subject` is the aggregate id and the Kafka key.

    `unset` names data fields sent as null, for a statement that fills them in the outbox
    row's text (the figures only it knows; the quota reservation). The payload has been
    validated and the contract's type checked when it was declared, so the envelope is
    constructed without validating them again (a reservation writes four envelopes)."""
    if not subject:
        raise ValueError("subject (the aggregate id) must not be empty")
    if traceparent is not None and not TRACEPARENT_PATTERN.match(traceparent):
        raise ValueError("traceparent must be a W3C trace context version 00")
    data = payload.model_dump(mode="json")
    for name in unset:
        data[name] = None
    return Envelope.model_construct(
        id=uuid.uuid4(),
        source=source,
        type=contract_of(type(payload)).type,
        time=datetime.now(UTC),
        subject=subject,
        correlationid=correlation_id,
        traceparent=new_traceparent() if traceparent is None else traceparent,
        data=data,
    )


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
