"""The envelope on the wire, the contract registry, make_event and decode.

Test contracts live in their own `Registry` under the `selftest` context, so they never
reach the real `REGISTRY` that the committed-schema check reads.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from koshiqon.common.errors import PermanentEventError
from koshiqon.common.events import REGISTRY, Envelope, EventPayload, decode, event, make_event
from koshiqon.common.events.contracts import (
    TOPICS,
    Registry,
    contract_of,
    load_all_contracts,
    topic_for,
)

SELFTEST = Registry()
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"


class Territory(EventPayload):
    kato: str
    name: str | None = None


@event("selftest", "quota-reserved", topic="selftest.v1", registry=SELFTEST)
class QuotaReserved(EventPayload):
    reservation_id: uuid.UUID
    amount: Decimal
    reserved_at: datetime
    status: Status
    territory: Territory
    family_members: list[str] = []
    note: str | None = None


def reserved(**overrides: Any) -> QuotaReserved:
    fields: dict[str, Any] = {
        "reservation_id": uuid.UUID(int=7),
        "amount": Decimal("12.50"),
        "reserved_at": datetime(2025, 5, 25, 9, 30, tzinfo=UTC),
        "status": Status.PENDING,
        "territory": Territory(kato="751110000", name="Almaty"),
    }
    return QuotaReserved(**(fields | overrides))


def envelope_of(payload: EventPayload) -> Envelope:
    return make_event(payload, subject="reservation-7", source="test", correlation_id="corr-1")


# --- envelope --------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    subject=st.text(min_size=1, max_size=40),
    time=st.datetimes(timezones=st.just(UTC)),
)
def test_envelope_round_trips_through_bytes(
    data: dict[str, Any], subject: str, time: datetime
) -> None:
    envelope = Envelope(
        source="test",
        type="kz.migration.selftest.anything.v1",
        subject=subject,
        correlationid="corr-1",
        time=time,
        data=data,
    )

    assert Envelope.from_bytes(envelope.to_bytes()) == envelope


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="no value"),
        pytest.param(b"\xff\xfe garbage", id="not json"),
        pytest.param(b"[1, 2]", id="not an object"),
        pytest.param(b'{"type": "kz.migration.selftest.x.v1"}', id="missing fields"),
    ],
)
def test_undecodable_records_are_permanent(raw: bytes | None) -> None:
    with pytest.raises(PermanentEventError):
        Envelope.from_bytes(raw)


@pytest.mark.parametrize(
    "type_", ["registration.person-moved", "kz.migration.Registration.moved.v1", "kz.x.y.v1"]
)
def test_unversioned_or_misnamed_types_are_permanent(type_: str) -> None:
    raw = envelope_of(reserved()).model_dump(mode="json") | {"type": type_}

    with pytest.raises(PermanentEventError, match="type must look like"):
        Envelope.from_bytes(orjson.dumps(raw))


# --- make_event and decode -------------------------------------------------------------


def test_make_event_fills_the_envelope() -> None:
    payload = reserved()

    envelope = make_event(
        payload,
        subject="reservation-7",
        source="koshiqon.quota",
        correlation_id="corr-1",
        traceparent=TRACEPARENT,
    )

    assert envelope.type == "kz.migration.selftest.quota-reserved.v1"
    assert (envelope.context, envelope.name, envelope.version) == ("selftest", "quota-reserved", 1)
    assert envelope.subject == "reservation-7"
    assert envelope.source == "koshiqon.quota"
    assert envelope.correlationid == "corr-1"
    assert envelope.traceparent == TRACEPARENT
    assert envelope.data == payload.model_dump(mode="json")
    assert envelope.data["amount"] == "12.50"


def test_make_event_starts_a_trace_when_none_is_given() -> None:
    first, second = envelope_of(reserved()), envelope_of(reserved())

    assert first.traceparent != second.traceparent
    assert first.id != second.id


def test_make_event_needs_a_subject() -> None:
    with pytest.raises(ValueError, match="subject"):
        make_event(reserved(), subject="", source="test", correlation_id="corr-1")


def test_make_event_refuses_a_payload_without_contract() -> None:
    class Undeclared(QuotaReserved):
        pass

    with pytest.raises(TypeError, match="not declared"):
        make_event(
            Undeclared(**reserved().model_dump()),
            subject="s",
            source="test",
            correlation_id="corr-1",
        )


payloads = st.builds(
    QuotaReserved,
    reservation_id=st.uuids(),
    amount=st.decimals(allow_nan=False, allow_infinity=False, places=2),
    reserved_at=st.datetimes(timezones=st.just(UTC)),
    status=st.sampled_from(Status),
    territory=st.builds(Territory, kato=st.from_regex(r"\A[0-9]{9}\Z"), name=st.none() | st.text()),
    family_members=st.lists(st.text(), max_size=3),
    note=st.none() | st.text(),
)


@given(payload=payloads)
def test_payload_round_trips_through_the_wire(payload: QuotaReserved) -> None:
    raw = envelope_of(payload).to_bytes()

    assert decode(Envelope.from_bytes(raw), registry=SELFTEST) == payload


def test_decode_tolerates_fields_from_newer_producers() -> None:
    envelope = envelope_of(reserved())
    newer = envelope.model_copy(update={"data": envelope.data | {"added_in_v1_1": 3}})

    assert decode(newer, registry=SELFTEST) == reserved()


def test_decode_of_an_unknown_type_is_permanent() -> None:
    envelope = envelope_of(reserved()).model_copy(
        update={"type": "kz.migration.selftest.never-declared.v1"}
    )

    with pytest.raises(PermanentEventError, match="unknown event type"):
        decode(envelope, registry=SELFTEST)


def test_decode_names_the_invalid_fields() -> None:
    envelope = envelope_of(reserved())
    data = envelope.data | {"status": "lost", "territory": {"name": "Almaty"}}
    del data["amount"]

    with pytest.raises(PermanentEventError) as caught:
        decode(envelope.model_copy(update={"data": data}), registry=SELFTEST)

    message = str(caught.value)
    assert "kz.migration.selftest.quota-reserved.v1" in message
    assert "amount: Field required" in message
    assert "status:" in message
    assert "territory.kato: Field required" in message


# --- registry --------------------------------------------------------------------------


def test_registry_knows_its_contracts() -> None:
    contract = SELFTEST.get("kz.migration.selftest.quota-reserved.v1")

    assert contract.payload is QuotaReserved
    assert contract_of(QuotaReserved) is contract
    assert contract.topic == "selftest.v1"
    assert "kz.migration.selftest.quota-reserved.v1" in SELFTEST
    assert list(SELFTEST) == [contract]
    assert SELFTEST.types() == ["kz.migration.selftest.quota-reserved.v1"]
    assert "kz.migration.selftest.quota-reserved.v1" not in REGISTRY


def test_registry_get_of_an_unknown_type_is_permanent() -> None:
    with pytest.raises(PermanentEventError, match="unknown event type"):
        SELFTEST.get("kz.migration.selftest.nothing.v1")


def test_a_type_registered_by_another_class_is_refused() -> None:
    registry = Registry()

    @event("selftest", "person-moved", topic="selftest.v1", registry=registry)
    class PersonMoved(EventPayload):
        person_id: str

    with pytest.raises(ValueError, match="already registered"):

        @event("selftest", "person-moved", topic="selftest.v1", registry=registry)
        class OtherPersonMoved(EventPayload):
            person_id: str

    assert registry.get("kz.migration.selftest.person-moved.v1").payload is PersonMoved


def test_the_same_class_registered_again_replaces_it() -> None:
    registry = Registry()

    def declare() -> type[EventPayload]:  # as a module reload would
        @event("selftest", "person-moved", topic="selftest.v1", registry=registry)
        class PersonMoved(EventPayload):
            person_id: str

        return PersonMoved

    declare()
    reloaded = declare()

    assert registry.get("kz.migration.selftest.person-moved.v1").payload is reloaded


def test_versions_are_separate_types() -> None:
    registry = Registry()

    @event("selftest", "person-moved", topic="selftest.v1", registry=registry)
    class PersonMovedV1(EventPayload):
        person_id: str

    @event("selftest", "person-moved", version=2, topic="selftest.v1", registry=registry)
    class PersonMovedV2(EventPayload):
        iin: str

    assert registry.types() == [
        "kz.migration.selftest.person-moved.v1",
        "kz.migration.selftest.person-moved.v2",
    ]


def test_topics_are_one_per_publishing_context() -> None:
    assert topic_for("registration") == "registration.v1"
    assert topic_for("monitoring") == "monitoring.v1"
    with pytest.raises(ValueError, match="no topic for context"):
        topic_for("selftest")


@pytest.mark.parametrize(
    ("context", "name", "version", "topic"),
    [
        pytest.param("quota", "quota-reserved", 1, "registration.v1", id="foreign topic"),
        pytest.param("selftest", "quota-reserved", 1, None, id="unknown context"),
        pytest.param("selftest", "Quota Reserved", 1, "selftest.v1", id="bad name"),
        pytest.param("selftest", "quota-reserved", 0, "selftest.v1", id="version 0"),
    ],
)
def test_invalid_declarations_are_refused(
    context: str, name: str, version: int, topic: str | None
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per case
        event(context, name, version=version, topic=topic, registry=Registry())


def test_load_all_contracts_imports_only_context_modules() -> None:
    modules = load_all_contracts()

    assert modules == load_all_contracts()
    assert {module.rpartition(".")[2] for module in modules} <= TOPICS.keys()
