"""The payload of each proposal type (§6, §8), parsed from JSON and checked against the
proposal's region and today's date; a payload that does not fit its type is refused with
every field it gets wrong (`InvalidPayload`). Pure: no I/O, no framework."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeAlias

from koshiqon.common import kz
from koshiqon.common.errors import InvalidInput
from koshiqon.common.events.proposals import ProposalType
from koshiqon.proposals.domain.errors import InvalidPayload

MAX_DELTA = 1_000_000
MAX_PLAN = 4000
MEDIUM_TERM_YEARS = (2, 5)


class ResettlementKind(StrEnum):
    KANDAS = "kandas"
    MIGRANT = "migrant"


class LabourCategory(StrEnum):
    """Foreign labour permit categories 1-4, and seasonal agricultural workers."""

    HEADS = "1"
    UNIT_HEADS = "2"
    SPECIALISTS = "3"
    SKILLED = "4"
    SEASONAL = "seasonal"


class Measure(StrEnum):
    """The measures of §8, when outflow exceeds reproduction."""

    ATTRACT_QUALIFIED_LABOUR = "attract_qualified_labour"
    SOCIAL_ADAPTATION = "social_adaptation"
    VOCATIONAL_TRAINING = "vocational_training"  # kandases, especially young people


MEASURE_TITLES = {
    Measure.ATTRACT_QUALIFIED_LABOUR: "Attracting qualified labour",
    Measure.SOCIAL_ADAPTATION: "Speedy social adaptation",
    Measure.VOCATIONAL_TRAINING: "Vocational training and retraining of kandases, "
    "especially young people",
}


@dataclass(frozen=True)
class TerritoryPayload:
    """territory_assignment / territory_exclusion: the region or one of its districts."""

    kind: ResettlementKind
    kato: str
    effective_date: date


@dataclass(frozen=True)
class LabourQuotaPayload:
    category: LabourCategory
    delta: int
    year: int


@dataclass(frozen=True)
class Horizon:
    """The upcoming year (year_from == year_to), or a medium-term range of 2 to 5 years."""

    year_from: int
    year_to: int

    @property
    def medium_term(self) -> bool:
        return self.year_to > self.year_from


@dataclass(frozen=True)
class RegionalQuotaPayload:
    kind: ResettlementKind
    delta: int
    horizon: Horizon


@dataclass(frozen=True)
class MeasureItem:
    measure: Measure
    plan: str
    done: bool


@dataclass(frozen=True)
class MeasuresPayload:
    checklist: tuple[MeasureItem, ...]

    @property
    def filled(self) -> bool:
        return any(item.plan.strip() for item in self.checklist)


Payload: TypeAlias = TerritoryPayload | LabourQuotaPayload | RegionalQuotaPayload | MeasuresPayload


def empty_checklist() -> MeasuresPayload:
    return MeasuresPayload(tuple(MeasureItem(m, "", False) for m in Measure))


def has_delta(payload: Payload) -> bool:
    return isinstance(payload, LabourQuotaPayload | RegionalQuotaPayload)


# --- parsing ---------------------------------------------------------------------------------


_OWN = object()  # a check of the field `name` itself, not of a value the caller took out


class _Fields:
    """Collects the field errors of one payload; `payload.` prefixes every name."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.errors: list[tuple[str, str]] = []

    def fail(self, name: str, message: str) -> None:
        self.errors.append((f"payload.{name}", message))

    def enum(self, name: str, kind: type[StrEnum], raw: Any = _OWN) -> Any:
        value = self.raw.get(name) if raw is _OWN else raw
        if isinstance(value, str) and value in kind._value2member_map_:
            return kind(value)
        self.fail(name, f"one of {', '.join(k.value for k in kind)}")
        return None

    def integer(self, name: str, raw: Any = _OWN) -> int | None:
        value = self.raw.get(name) if raw is _OWN else raw
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "an integer")
            return None
        return value

    def delta(self, name: str = "delta") -> int | None:
        value = self.integer(name)
        if value is None:
            return None
        if value == 0:
            self.fail(name, "a signed, non-zero number of persons")
            return None
        if abs(value) > MAX_DELTA:
            self.fail(name, f"at most {MAX_DELTA} persons either way")
            return None
        return value

    def day(self, name: str) -> date | None:
        value = self.raw.get(name)
        if isinstance(value, str) and len(value) == 10:
            with contextlib.suppress(ValueError):  # not a calendar date: refused below
                return date.fromisoformat(value)
        self.fail(name, "a date, YYYY-MM-DD")
        return None

    def unknown(self, allowed: set[str]) -> None:
        for name in sorted(set(self.raw) - allowed):
            self.fail(name, "not a field of this proposal type")


def parse_payload(type_: ProposalType, raw: object, *, region: str, today: date) -> Payload:
    """The payload of `type_`, or InvalidPayload naming each field it gets wrong."""
    if not isinstance(raw, Mapping):
        raise InvalidPayload([("payload", "an object")])
    fields = _Fields(raw)
    payload: Payload | None
    if type_ in (ProposalType.TERRITORY_ASSIGNMENT, ProposalType.TERRITORY_EXCLUSION):
        payload = _territory(fields, region=region)
    elif type_ is ProposalType.FOREIGN_LABOUR_QUOTA_CHANGE:
        payload = _labour(fields, today=today)
    elif type_ is ProposalType.REGIONAL_QUOTA_CHANGE:
        payload = _regional(fields, today=today)
    else:
        payload = _measures(fields)
    if fields.errors or payload is None:
        raise InvalidPayload(fields.errors or [("payload", "does not fit its type")])
    return payload


def _territory(fields: _Fields, *, region: str) -> TerritoryPayload | None:
    fields.unknown({"kind", "kato", "effective_date"})
    kind = fields.enum("kind", ResettlementKind)
    kato = fields.raw.get("kato")
    if not isinstance(kato, str):
        fields.fail("kato", "a 9-digit KATO code")
        kato = None
    else:
        try:
            inside = kz.region_of(kato).kato
        except InvalidInput as error:
            fields.fail("kato", error.detail)
            kato = None
        else:
            if inside != region:
                fields.fail("kato", f"{kato} lies outside the proposal's region {region}")
                kato = None
    effective = fields.day("effective_date")
    if kind is None or kato is None or effective is None:
        return None
    return TerritoryPayload(kind, kato, effective)


def _year(fields: _Fields, name: str, value: int | None, *, today: date) -> int | None:
    if value is None:
        return None
    if value < today.year:
        fields.fail(name, f"{value} is past")
        return None
    if value > today.year + 10:
        fields.fail(name, f"at most {today.year + 10}")
        return None
    return value


def _labour(fields: _Fields, *, today: date) -> LabourQuotaPayload | None:
    fields.unknown({"category", "delta", "year"})
    category = fields.enum("category", LabourCategory)
    delta = fields.delta()
    year = _year(fields, "year", fields.integer("year"), today=today)
    if category is None or delta is None or year is None:
        return None
    return LabourQuotaPayload(category, delta, year)


def _regional(fields: _Fields, *, today: date) -> RegionalQuotaPayload | None:
    fields.unknown({"kind", "delta", "horizon"})
    kind = fields.enum("kind", ResettlementKind)
    delta = fields.delta()
    horizon = _horizon(fields, today=today)
    if kind is None or delta is None or horizon is None:
        return None
    return RegionalQuotaPayload(kind, delta, horizon)


def _horizon(fields: _Fields, *, today: date) -> Horizon | None:
    """{"year": Y} for the upcoming year (this year or the next), or {"year_from": A,
    "year_to": B} for a medium term of 2 to 5 years starting no earlier than this year."""
    raw = fields.raw.get("horizon")
    if not isinstance(raw, Mapping) or not (
        {"year"} == set(raw) or {"year_from", "year_to"} == set(raw)
    ):
        fields.fail("horizon", 'either {"year": Y} or {"year_from": A, "year_to": B}')
        return None
    if "year" in raw:
        year = fields.integer("horizon.year", raw["year"])
        year = _year(fields, "horizon.year", year, today=today)
        if year is not None and year > today.year + 1:
            fields.fail("horizon.year", f"the upcoming year is {today.year} or {today.year + 1}")
            return None
        return None if year is None else Horizon(year, year)
    start = fields.integer("horizon.year_from", raw["year_from"])
    start = _year(fields, "horizon.year_from", start, today=today)
    end = fields.integer("horizon.year_to", raw["year_to"])
    if start is None or end is None:
        return None
    low, high = MEDIUM_TERM_YEARS
    if not low <= end - start + 1 <= high:
        fields.fail("horizon.year_to", f"a medium term spans {low} to {high} years")
        return None
    return Horizon(start, end)


def _measures(fields: _Fields) -> MeasuresPayload | None:
    fields.unknown({"checklist"})
    raw = fields.raw.get("checklist")
    if not isinstance(raw, list) or not raw:
        fields.fail("checklist", f"a list of measures: {', '.join(m.value for m in Measure)}")
        return None
    items: list[MeasureItem] = []
    for index, entry in enumerate(raw):
        name = f"checklist[{index}]"
        if not isinstance(entry, Mapping) or set(entry) - {"measure", "plan", "done"}:
            fields.fail(name, 'an object {"measure", "plan", "done"}')
            continue
        measure = fields.enum(f"{name}.measure", Measure, entry.get("measure"))
        plan, done = entry.get("plan", ""), entry.get("done", False)
        if not isinstance(plan, str) or len(plan) > MAX_PLAN:
            fields.fail(f"{name}.plan", f"text of at most {MAX_PLAN} characters")
        if not isinstance(done, bool):
            fields.fail(f"{name}.done", "true or false")
        if measure is not None and isinstance(plan, str) and isinstance(done, bool):
            items.append(MeasureItem(measure, plan, done))
    if len({item.measure for item in items}) != len(items):
        fields.fail("checklist", "each measure at most once")
    return MeasuresPayload(tuple(items))


def payload_json(payload: Payload) -> dict[str, Any]:
    """The payload as the API shows it and the database keeps it."""
    if isinstance(payload, TerritoryPayload):
        return {
            "kind": payload.kind.value,
            "kato": payload.kato,
            "effective_date": payload.effective_date.isoformat(),
        }
    if isinstance(payload, LabourQuotaPayload):
        return {"category": payload.category.value, "delta": payload.delta, "year": payload.year}
    if isinstance(payload, RegionalQuotaPayload):
        h = payload.horizon
        horizon = (
            {"year_from": h.year_from, "year_to": h.year_to}
            if h.medium_term
            else {"year": h.year_from}
        )
        return {"kind": payload.kind.value, "delta": payload.delta, "horizon": horizon}
    return {
        "checklist": [
            {"measure": i.measure.value, "plan": i.plan, "done": i.done} for i in payload.checklist
        ]
    }


def load_payload(type_: ProposalType, stored: Mapping[str, Any]) -> Payload:
    """A payload as `payload_json` stored it (checked when filed: not checked again, so a
    proposal stays readable after the year it concerns has passed)."""
    if type_ in (ProposalType.TERRITORY_ASSIGNMENT, ProposalType.TERRITORY_EXCLUSION):
        return TerritoryPayload(
            ResettlementKind(stored["kind"]),
            stored["kato"],
            date.fromisoformat(stored["effective_date"]),
        )
    if type_ is ProposalType.FOREIGN_LABOUR_QUOTA_CHANGE:
        return LabourQuotaPayload(
            LabourCategory(stored["category"]), stored["delta"], stored["year"]
        )
    if type_ is ProposalType.REGIONAL_QUOTA_CHANGE:
        h = stored["horizon"]
        horizon = (
            Horizon(h["year"], h["year"]) if "year" in h else Horizon(h["year_from"], h["year_to"])
        )
        return RegionalQuotaPayload(ResettlementKind(stored["kind"]), stored["delta"], horizon)
    return MeasuresPayload(
        tuple(MeasureItem(Measure(i["measure"]), i["plan"], i["done"]) for i in stored["checklist"])
    )
