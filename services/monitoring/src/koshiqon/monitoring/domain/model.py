"""What each consumed event changes in the projections: pure functions from an event's
payload to the increments it adds (`Changes`), and the regions and days whose §8 figures it
moves. No I/O: the repository turns the increments into upserts (adapters/repository).

Every change is an increment or a last-writer-wins value keyed by its event's time, so the
projections come out the same whatever the order the events of different partitions
arrive in, and a replay (rebuild) gives the same rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from koshiqon.common.events import proposals as prop
from koshiqon.common.events import quota as q
from koshiqon.common.events import registration as reg
from koshiqon.common.events.contracts import EventPayload
from koshiqon.monitoring.domain.periods import month_start


@dataclass(frozen=True)
class PersonSeen:
    person_id: UUID
    legal_status: str
    kandas: bool


@dataclass(frozen=True)
class Flow:
    """One person in or out of `region`: abroad (`external`, counterpart a country) or
    between regions (`internal`, counterpart the other region: the origin-destination
    matrix)."""

    region: str
    month: date
    scope: str
    direction: str
    district: str
    legal_status: str
    kandas: bool | None
    person_id: UUID
    counterpart: str
    at: datetime


@dataclass(frozen=True)
class Registration:
    region: str
    month: date
    district: str
    kind: str
    purpose: str
    legal_status: str
    kandas: bool | None
    person_id: UUID
    started: int
    ended: int
    at: datetime


@dataclass(frozen=True)
class Resettlement:
    region: str
    month: date
    category: str
    column: str  # requested, approved, rejected, completed, withdrawn
    persons: int
    at: datetime


@dataclass(frozen=True)
class QuotaUse:
    quota_id: UUID
    region: str
    kind: str
    year: int
    reserved: int
    consumed: int
    at: datetime


@dataclass(frozen=True)
class QuotaLimit:
    quota_id: UUID
    region: str
    kind: str
    category: str
    year_from: int
    year_to: int
    limit: int
    at: datetime


STAGE_RANK: Mapping[str, int] = {
    "opened": 0, "submitted": 1, "returned": 2, "approved": 3, "rejected": 4, "withdrawn": 4,
    "applied": 5, "application-failed": 5,
}  # fmt: skip
"""A proposal's steps in the order of the procedure (§6, §8): of two stage events with the
same time, the later step is the proposal's state."""


@dataclass(frozen=True)
class ProposalStage:
    """A proposal reaching `stage`: counted by month (`p_proposals`) and, as the proposal's
    state when it is its latest event, kept by proposal (`p_proposal_states`)."""

    region: str
    month: date
    type: str
    stage: str
    at: datetime
    proposal_id: UUID

    @property
    def rank(self) -> int:
        return STAGE_RANK[self.stage]


@dataclass
class Changes:
    persons: list[PersonSeen] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    resettlement: list[Resettlement] = field(default_factory=list)
    quota_use: list[QuotaUse] = field(default_factory=list)
    quota_limits: list[QuotaLimit] = field(default_factory=list)
    proposals: list[ProposalStage] = field(default_factory=list)

    def outflow_scopes(self) -> set[tuple[str, date]]:
        """The (region, day) pairs whose §8 figures these changes move."""
        return {(f.region, f.month) for f in self.flows}


def district_of(settlement: str) -> str:
    """The district (KATO `AB CD 00 000`) of a settlement, or '' for a region's own code."""
    district = settlement[:4] + "00000"
    return "" if district[2:4] == "00" else district


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _kandas(payload: EventPayload) -> bool | None:
    value = getattr(payload, "kandas", None)
    return value if isinstance(value, bool) else None


def _person_registered(e: reg.PersonRegistered) -> Changes:
    return Changes(persons=[PersonSeen(e.person_id, e.legal_status.value, e.kandas)])


def _residence_registered(e: reg.ResidenceRegistered) -> Changes:
    purpose = e.purpose.value if e.purpose is not None else ("work" if e.labour_migration else "")
    if e.kind is reg.ResidenceKind.PERMANENT:
        purpose = ""
    row = Registration(
        e.region, month_start(e.valid_from), district_of(e.settlement), e.kind.value, purpose,
        e.legal_status.value, _kandas(e), e.person_id, 1, 0, at_midnight(e.valid_from),
    )  # fmt: skip
    return Changes(registrations=[row])


def _residence_ended(e: reg.ResidenceEnded) -> Changes:
    row = Registration(
        e.region, month_start(e.ended_on), district_of(e.settlement), e.kind.value, "",
        e.legal_status.value, _kandas(e), e.person_id, 0, 1, at_midnight(e.ended_on),
    )  # fmt: skip
    return Changes(registrations=[row])


def _moved(e: reg.PersonMoved) -> Changes:
    month, at, kandas = month_start(e.moved_on), at_midnight(e.moved_on), _kandas(e)
    status = e.legal_status.value
    return Changes(
        flows=[
            Flow(e.from_region, month, "internal", "out", district_of(e.from_settlement),
                 status, kandas, e.person_id, e.to_region, at),
            Flow(e.to_region, month, "internal", "in", district_of(e.to_settlement),
                 status, kandas, e.person_id, e.from_region, at),
        ]
    )  # fmt: skip


def _immigrated(e: reg.PersonImmigrated) -> Changes:
    flow = Flow(
        e.region, month_start(e.arrived_on), "external", "in", district_of(e.settlement),
        e.legal_status.value, _kandas(e), e.person_id, e.country_of_origin,
        at_midnight(e.arrived_on),
    )  # fmt: skip
    return Changes(flows=[flow])


def _emigrated(e: reg.PersonEmigrated) -> Changes:
    flow = Flow(
        e.region, month_start(e.departed_on), "external", "out", "", e.legal_status.value,
        _kandas(e), e.person_id, e.destination_country, at_midnight(e.departed_on),
    )  # fmt: skip
    return Changes(flows=[flow])


def _resettlement(column: str, persons: int, region: str, category: str, at: datetime) -> Changes:
    row = Resettlement(region, month_start(at.date()), category, column, persons, at)
    return Changes(resettlement=[row])


def _requested(e: reg.ResettlementRequested) -> Changes:
    if e.repeat:  # registration asking quota again: the application was counted once
        return Changes()
    return _resettlement("requested", e.persons, e.target_region, e.category, e.requested_at)


def _approved(e: reg.ResettlementApproved) -> Changes:
    return _resettlement("approved", e.persons, e.target_region, e.category, e.approved_at)


def _rejected(e: reg.ResettlementRejected) -> Changes:
    return _resettlement("rejected", e.persons, e.target_region, e.category, e.rejected_at)


def _completed(e: reg.ResettlementCompleted) -> Changes:
    at = at_midnight(e.completed_on)
    return _resettlement("completed", e.persons, e.target_region, e.category, at)


def _withdrawn(e: reg.ResettlementWithdrawn) -> Changes:
    return _resettlement("withdrawn", e.persons, e.target_region, e.category, e.withdrawn_at)


def _use(e: Any, reserved: int, consumed: int, at: datetime) -> Changes:
    row = QuotaUse(e.quota_id, e.region, e.kind.value, e.year, reserved, consumed, at)
    return Changes(quota_use=[row])


def _quota_reserved(e: q.QuotaReserved) -> Changes:
    if e.repeat:  # the first outcome published again: its persons are reserved once
        return Changes()
    return _use(e, e.persons, 0, e.reserved_at)


def _quota_consumed(e: q.QuotaConsumed) -> Changes:
    return _use(e, -e.persons, e.persons, e.consumed_at)


def _quota_released(e: q.QuotaReleased) -> Changes:
    return _use(e, -e.persons, 0, e.released_at)


def _quota_expired(e: q.QuotaExpired) -> Changes:
    return _use(e, -e.persons, 0, e.expired_at)


def _limit(e: q.QuotaEstablished | q.QuotaAdjusted, at: datetime) -> QuotaLimit:
    category = e.category.value if e.category is not None else ""
    return QuotaLimit(
        e.quota_id, e.region, e.kind.value, category, e.year_from, e.year_to, e.limit, at
    )


def _quota_established(e: q.QuotaEstablished) -> Changes:
    return Changes(quota_limits=[_limit(e, e.established_at)])


def _quota_adjusted(e: q.QuotaAdjusted) -> Changes:
    return Changes(quota_limits=[_limit(e, e.adjusted_at)])


def _stage(e: Any, type_: str, stage: str, at: datetime) -> ProposalStage:
    return ProposalStage(e.region, month_start(at.date()), type_, stage, at, e.proposal_id)


def approved_type(e: prop.ProposalApproved) -> str:
    """The proposal's type; an approval from before the type was on the event by its
    effect."""
    if e.type is not None:
        return e.type.value
    effect = e.effect
    if isinstance(effect, prop.AdjustQuotaEffect):
        if effect.kind is q.QuotaKind.FOREIGN_LABOUR:
            return prop.ProposalType.FOREIGN_LABOUR_QUOTA_CHANGE.value
        return prop.ProposalType.REGIONAL_QUOTA_CHANGE.value
    if isinstance(effect, prop.DesignateTerritoryEffect):
        return prop.ProposalType.TERRITORY_ASSIGNMENT.value
    return prop.ProposalType.TERRITORY_EXCLUSION.value


def _proposal_approved(e: prop.ProposalApproved) -> Changes:
    if e.repeat:  # a stuck approval sent again: the proposal was approved once
        return Changes()
    return Changes(proposals=[_stage(e, approved_type(e), "approved", e.approved_at)])


def _proposal(stage: str, attribute: str) -> Callable[[Any], Changes]:
    def projector(e: Any) -> Changes:
        return Changes(proposals=[_stage(e, e.type.value, stage, getattr(e, attribute))])

    return projector


MEASURES = prop.ProposalType.MEASURES.value


def _measures_opened(e: prop.MeasuresProposalOpened) -> Changes:
    return Changes(proposals=[_stage(e, MEASURES, "opened", e.opened_at)])


def _measures_approved(e: prop.MeasuresApproved) -> Changes:
    return Changes(proposals=[_stage(e, MEASURES, "approved", e.approved_at)])


PROJECTORS: Mapping[type[EventPayload], Callable[[Any], Changes]] = {
    reg.PersonRegistered: _person_registered,
    reg.ResidenceRegistered: _residence_registered,
    reg.ResidenceEnded: _residence_ended,
    reg.PersonMoved: _moved,
    reg.PersonImmigrated: _immigrated,
    reg.PersonEmigrated: _emigrated,
    reg.ResettlementRequested: _requested,
    reg.ResettlementApproved: _approved,
    reg.ResettlementRejected: _rejected,
    reg.ResettlementCompleted: _completed,
    reg.ResettlementWithdrawn: _withdrawn,
    q.QuotaReserved: _quota_reserved,
    q.QuotaConsumed: _quota_consumed,
    q.QuotaReleased: _quota_released,
    q.QuotaExpired: _quota_expired,
    q.QuotaEstablished: _quota_established,
    q.QuotaAdjusted: _quota_adjusted,
    prop.ProposalSubmitted: _proposal("submitted", "submitted_at"),
    prop.ProposalReturned: _proposal("returned", "returned_at"),
    prop.ProposalRejected: _proposal("rejected", "rejected_at"),
    prop.ProposalWithdrawn: _proposal("withdrawn", "withdrawn_at"),
    prop.ProposalApproved: _proposal_approved,
    prop.ProposalApplied: _proposal("applied", "applied_at"),
    prop.ProposalApplicationFailed: _proposal("application-failed", "failed_at"),
    prop.MeasuresProposalOpened: _measures_opened,
    prop.MeasuresApproved: _measures_approved,
}


def project(payload: EventPayload) -> Changes:
    """The changes `payload` makes; an event type no projection reads changes nothing."""
    projector = PROJECTORS.get(type(payload))
    return Changes() if projector is None else projector(payload)
