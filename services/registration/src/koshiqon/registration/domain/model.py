"""Persons, residence registrations and resettlement applications (§7, §9, §10).

Pure Python: no I/O and no clock (callers pass dates and times). The rules that need the
person's other registrations (one active permanent registration, no overlapping temporary
stays at one address, moves and immigration) take them as arguments; the unit of work loads
them under a lock on the person's row, so they hold under concurrency too.

Every change returns the wire events it causes (payloads of `registration.v1`); the unit of
work writes them to the outbox in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.registration import (
    EndReason,
    LegalStatus,
    PersonEmigrated,
    PersonImmigrated,
    PersonMoved,
    PersonRegistered,
    ResidenceEnded,
    ResidenceKind,
    ResidenceRegistered,
    StayPurpose,
)
from koshiqon.common.kz import IIN, Sex, normalize_kato, region_of
from koshiqon.registration.domain.errors import InvalidInput, InvalidTransition, OverlappingStay
from koshiqon.registration.domain.names import check_names

__all__ = [
    "KAZAKHSTAN",
    "Address",
    "AuditEntry",
    "EndReason",
    "KandasStatus",
    "LegalStatus",
    "Person",
    "Residence",
    "ResidenceKind",
    "ResidenceStatus",
    "Sex",
    "StayPurpose",
    "TravelDocument",
]

KAZAKHSTAN = "KAZ"
_COUNTRY = re.compile(r"[A-Z]{3}")


def country(code: str, *, field: str) -> str:
    if not _COUNTRY.fullmatch(code):
        raise InvalidInput("a country is an ISO 3166-1 alpha-3 code, e.g. KAZ", field=field)
    return code


# --- persons -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TravelDocument:
    number: str
    country: str


@dataclass(frozen=True)
class KandasStatus:
    certificate_number: str
    certificate_date: date


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    legal_status: LegalStatus
    iin: str | None
    travel_document: TravelDocument | None
    surname_latin: str
    given_names_latin: str
    surname_cyrillic: str | None
    given_names_cyrillic: str | None
    birth_date: date
    sex: Sex
    citizenship: str | None
    ethnicity: str | None
    kandas: KandasStatus | None
    created_at: datetime
    created_in_region: str | None = None

    def registered_event(self) -> PersonRegistered:
        return PersonRegistered(
            person_id=self.id,
            legal_status=self.legal_status,
            citizenship=self.citizenship,
            kandas=self.kandas is not None,
            registered_at=self.created_at,
        )


def check_identity(person: Person) -> None:
    """The rules between legal status, names, IIN, travel document, citizenship and birth
    data."""
    check_names(
        person.legal_status,
        surname_latin=person.surname_latin,
        given_names_latin=person.given_names_latin,
        surname_cyrillic=person.surname_cyrillic,
        given_names_cyrillic=person.given_names_cyrillic,
    )
    if person.iin is not None:
        _check_iin(person)
    elif person.legal_status is LegalStatus.CITIZEN:
        raise InvalidInput("a citizen is identified by an IIN", field="iin")
    elif person.travel_document is None:
        raise InvalidInput(
            "a person without an IIN is identified by a travel document and its country",
            field="travel_document",
        )
    _check_citizenship(person)
    if person.kandas is not None and person.kandas.certificate_date < person.birth_date:
        raise InvalidInput(
            "the kandas certificate predates the birth date", field="kandas.certificate_date"
        )


def _check_iin(person: Person) -> None:
    assert person.iin is not None
    iin = IIN.parse(person.iin)
    if iin.birth_date != person.birth_date:
        raise InvalidInput(
            f"the birth date does not agree with the IIN, which says {iin.birth_date}",
            field="birth_date",
        )
    if iin.sex != person.sex:
        raise InvalidInput(
            f"the sex does not agree with the IIN, which says {iin.sex}", field="sex"
        )


def _check_citizenship(person: Person) -> None:
    status, citizenship = person.legal_status, person.citizenship
    if status is LegalStatus.CITIZEN and citizenship != KAZAKHSTAN:
        raise InvalidInput("a citizen's citizenship is KAZ", field="citizenship")
    if status is LegalStatus.FOREIGNER and (citizenship is None or citizenship == KAZAKHSTAN):
        raise InvalidInput(
            "a foreigner's citizenship is another country's code", field="citizenship"
        )
    if status is LegalStatus.STATELESS and citizenship is not None:
        raise InvalidInput("a stateless person has no citizenship", field="citizenship")
    if citizenship is not None:
        country(citizenship, field="citizenship")


# --- residence registrations ---------------------------------------------------------------


class ResidenceStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(frozen=True)
class Address:
    kato: str
    street: str
    building: str
    apartment: str | None = None

    @classmethod
    def parse(cls, *, kato: str, street: str, building: str, apartment: str | None) -> Address:
        """Normalize the KATO code and check its region exists (field `address.kato`)."""
        try:
            code = normalize_kato(kato)
            region_of(code)
        except InvalidInput as error:
            raise InvalidInput(error.detail, field="address.kato") from None
        return cls(kato=code, street=street, building=building, apartment=apartment)

    @property
    def region(self) -> str:
        return region_of(self.kato).kato

    def same_place(self, other: Address) -> bool:
        """The same settlement, street, building and apartment, whatever the letter case and
        spacing of the free-text parts."""
        return self.kato == other.kato and (
            _fold(self.street),
            _fold(self.building),
            _fold(self.apartment),
        ) == (_fold(other.street), _fold(other.building), _fold(other.apartment))


def _fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


@dataclass(frozen=True)
class Residence:
    id: uuid.UUID
    person_id: uuid.UUID
    kind: ResidenceKind
    address: Address
    valid_from: date
    valid_until: date | None
    purpose: StayPurpose | None
    status: ResidenceStatus = ResidenceStatus.ACTIVE
    ended_on: date | None = None
    end_reason: EndReason | None = None
    arrived_from: str | None = None

    @property
    def region(self) -> str:
        return self.address.region

    @property
    def last_day(self) -> date | None:
        """The last day covered: the end if ended, else valid_until (None: open-ended)."""
        return self.ended_on if self.ended_on is not None else self.valid_until

    def overlaps(self, start: date, end: date | None) -> bool:
        mine = self.last_day or date.max
        return self.valid_from <= (end or date.max) and start <= mine

    def check(self) -> None:
        """The rules of one registration on its own."""
        if self.kind is ResidenceKind.TEMPORARY:
            if self.valid_until is None:
                raise InvalidInput("a temporary stay needs valid_until", field="valid_until")
            if self.purpose is None:
                raise InvalidInput("a temporary stay needs a purpose", field="purpose")
            if self.valid_until < self.valid_from:
                raise InvalidInput("valid_until is before valid_from", field="valid_until")
            return
        if self.valid_until is not None:
            raise InvalidInput("a permanent registration has no valid_until", field="valid_until")
        if self.purpose is not None:
            raise InvalidInput("a permanent registration has no purpose", field="purpose")

    def ended(self, *, on: date, reason: EndReason) -> Residence:
        if self.status is not ResidenceStatus.ACTIVE:
            raise InvalidTransition("this registration has already ended", field="residence_id")
        if on < self.valid_from:
            raise InvalidInput("the end is before valid_from", field="ended_on")
        if self.valid_until is not None and on > self.valid_until:
            raise InvalidInput("the end is after valid_until", field="ended_on")
        return replace(self, status=ResidenceStatus.ENDED, ended_on=on, end_reason=reason)

    def registered_event(self, person: Person) -> ResidenceRegistered:
        return ResidenceRegistered(
            residence_id=self.id,
            person_id=self.person_id,
            legal_status=person.legal_status,
            kandas=person.kandas is not None,
            kind=self.kind,
            settlement=self.address.kato,
            region=self.region,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            purpose=self.purpose,
            labour_migration=self.purpose is StayPurpose.WORK,
        )

    def ended_event(self, person: Person) -> ResidenceEnded:
        assert self.ended_on is not None
        assert self.end_reason is not None
        return ResidenceEnded(
            residence_id=self.id,
            person_id=self.person_id,
            legal_status=person.legal_status,
            kandas=person.kandas is not None,
            kind=self.kind,
            settlement=self.address.kato,
            region=self.region,
            ended_on=self.ended_on,
            reason=self.end_reason,
        )


@dataclass
class Registration:
    """The outcome of registering a residence: the new row, the rows it ended, the events."""

    residence: Residence
    ended: list[Residence] = field(default_factory=list)
    events: list[EventPayload] = field(default_factory=list)


def concerns(new: Residence, other: Residence) -> bool:
    """Whether the rules of registering `new` look at the person's active registration
    `other`: on arrival from abroad, every one (any refuses it); for a permanent registration,
    the current permanent one (it ends); for a temporary stay, the stays its dates overlap
    (one at the same address refuses it). The repository loads only these, whatever the
    length of a person's history; `register` may be given more."""
    if new.arrived_from is not None:
        return True
    if new.kind is ResidenceKind.PERMANENT:
        return other.kind is ResidenceKind.PERMANENT
    return other.kind is ResidenceKind.TEMPORARY and other.overlaps(new.valid_from, new.valid_until)


def register(person: Person, new: Residence, *, active: Sequence[Residence]) -> Registration:
    """Register `new` for `person`, whose active registrations are `active` (at least those
    that `concerns(new, ...)`).

    - a new permanent registration ends the current one on the day before it starts; in
      another region that is an internal move;
    - a first registration on arrival from abroad (`arrived_from`) is an immigration, and
      is refused while the person still holds an active registration;
    - a temporary stay overlapping another at the same address is refused.
    """
    new.check()
    if new.valid_from < person.birth_date:
        raise InvalidInput("valid_from is before the birth date", field="valid_from")
    immigrated = _immigration(person, new, active=active)
    replaced = None
    if new.kind is ResidenceKind.PERMANENT:
        replaced = _replace_permanent(new, active=active)
    else:
        _refuse_overlap(new, active=active)
    outcome = Registration(residence=new)
    if replaced is not None:
        outcome.ended.append(replaced)
        outcome.events.append(replaced.ended_event(person))
    outcome.events.append(new.registered_event(person))
    if replaced is not None and replaced.region != new.region:
        outcome.events.append(_moved(person, replaced, new))
    if immigrated is not None:
        outcome.events.append(immigrated)
    return outcome


def _immigration(
    person: Person, new: Residence, *, active: Sequence[Residence]
) -> PersonImmigrated | None:
    if new.arrived_from is None:
        return None
    origin = country(new.arrived_from, field="arrived_from")
    if origin == KAZAKHSTAN:
        raise InvalidInput(
            "an arrival from abroad comes from another country", field="arrived_from"
        )
    if active:
        raise InvalidTransition(
            "an arrival from abroad is a first registration: this person is registered",
            field="arrived_from",
        )
    return PersonImmigrated(
        person_id=person.id,
        legal_status=person.legal_status,
        kandas=person.kandas is not None,
        country_of_origin=origin,
        kind=new.kind,
        region=new.region,
        settlement=new.address.kato,
        arrived_on=new.valid_from,
    )


def _replace_permanent(new: Residence, *, active: Sequence[Residence]) -> Residence | None:
    """The current permanent registration, ended on the day before `new` starts."""
    current = next((r for r in active if r.kind is ResidenceKind.PERMANENT), None)
    if current is None:
        return None
    if new.valid_from <= current.valid_from:
        raise InvalidInput(
            f"valid_from must be after the start of the current permanent registration "
            f"({current.valid_from})",
            field="valid_from",
        )
    return current.ended(on=new.valid_from - timedelta(days=1), reason=EndReason.REPLACED)


def _moved(person: Person, old: Residence, new: Residence) -> PersonMoved:
    return PersonMoved(
        person_id=person.id,
        legal_status=person.legal_status,
        kandas=person.kandas is not None,
        from_region=old.region,
        to_region=new.region,
        from_settlement=old.address.kato,
        to_settlement=new.address.kato,
        moved_on=new.valid_from,
    )


def _refuse_overlap(new: Residence, *, active: Sequence[Residence]) -> None:
    for other in active:  # the dates first: they rule out most stays, and compare cheaply
        if (
            other.kind is ResidenceKind.TEMPORARY
            and other.overlaps(new.valid_from, new.valid_until)
            and other.address.same_place(new.address)
        ):
            raise OverlappingStay(
                f"a temporary stay at this address already covers "
                f"{other.valid_from}..{other.last_day}",
                field="valid_from",
            )


@dataclass
class Emigration:
    ended: list[Residence]
    events: list[EventPayload]


def emigrate(
    person: Person, *, active: Sequence[Residence], destination: str, departed_on: date
) -> Emigration:
    """Deregistration on departure abroad: every active registration ends that day."""
    destination = country(destination, field="destination_country")
    if destination == KAZAKHSTAN:
        raise InvalidInput("an emigration goes abroad", field="destination_country")
    if not active:
        raise InvalidTransition("this person has no active registration", field="person_id")
    ended = [_end_for_departure(r, departed_on) for r in active]
    events: list[EventPayload] = [r.ended_event(person) for r in ended]
    events.append(
        PersonEmigrated(
            person_id=person.id,
            legal_status=person.legal_status,
            kandas=person.kandas is not None,
            destination_country=destination,
            region=home_region(active),
            departed_on=departed_on,
        )
    )
    return Emigration(ended=ended, events=events)


def _end_for_departure(residence: Residence, departed_on: date) -> Residence:
    if departed_on < residence.valid_from:
        raise InvalidInput(
            f"departed_on is before the start of an active registration ({residence.valid_from})",
            field="departed_on",
        )
    last = residence.valid_until
    on = departed_on if last is None or departed_on <= last else last
    return residence.ended(on=on, reason=EndReason.EMIGRATED)


def home_region(active: Sequence[Residence]) -> str:
    """The region of the permanent registration, else of the latest temporary stay."""
    permanent = [r for r in active if r.kind is ResidenceKind.PERMANENT]
    chosen = permanent or sorted(active, key=lambda r: r.valid_from, reverse=True)
    return chosen[0].region


@dataclass(frozen=True)
class AuditEntry:
    """One read of a person's data: who, when, which person, through which route."""

    id: int
    at: datetime
    subject: str
    agency: str | None
    region: str | None
    person_id: uuid.UUID
    route: str
    correlation_id: str | None
