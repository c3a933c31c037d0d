"""Quotas (§4.2, §4.3), designated territories (§6) and the reservation ledger (§7): pure
values and rules, no I/O.

The counters of a quota change only in SQL, by conditional updates (adapters/repository/
ledger.py and quotas.py, behind the repository Protocols of unit_of_work.py); the classes
here describe what the rules accept and what the ledger reports.

Designation rule: a kandas or migrant quota of a region needs a designation for that kind
inside the region: of the region itself or of one of its districts (§6 lets an akimat
propose a part of its territory). A reservation into the region then needs one in effect on
the reservation's reference day; when its target is a district, the designation must be of
that district or of the whole region.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from koshiqon.common import kz
from koshiqon.common.errors import InvalidInput
from koshiqon.quota.domain.errors import InvalidQuota

MAX_MEDIUM_TERM_YEARS = 5
MIN_YEAR, MAX_YEAR = 2000, 2100
THRESHOLDS = (90, 100)


class Kind(StrEnum):
    KANDAS = "kandas"
    MIGRANT = "migrant"
    FOREIGN_LABOUR = "foreign_labour"

    @property
    def needs_designation(self) -> bool:
        return self is not Kind.FOREIGN_LABOUR


class Category(StrEnum):
    """Foreign labour permit categories 1-4 and seasonal agricultural workers."""

    HEADS = "1"
    UNIT_HEADS = "2"
    SPECIALISTS = "3"
    SKILLED = "4"
    SEASONAL = "seasonal"


class QuotaStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class TerritoryKind(StrEnum):
    KANDAS = "kandas"
    MIGRANT = "migrant"


class TerritoryStatus(StrEnum):
    ACTIVE = "active"
    EXCLUDED = "excluded"


class ReservationStatus(StrEnum):
    PENDING = "pending"  # only inside the transaction that decides it
    RESERVED = "reserved"
    CONSUMED = "consumed"
    RELEASED = "released"
    EXPIRED = "expired"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"  # withdrawn before any reservation was asked: a tombstone


class Outcome(StrEnum):
    """What a reservation request got the first time; repeats get it again."""

    RESERVED = "reserved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class DenialReason(StrEnum):
    NO_QUOTA = "no_quota"
    NOT_DESIGNATED = "not_designated"
    EXHAUSTED = "exhausted"


class ReleaseReason(StrEnum):
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Period:
    """One year, or a medium-term range of at most five years, inclusive."""

    year_from: int
    year_to: int

    @classmethod
    def of(cls, year_from: int, year_to: int | None = None) -> Period:
        end = year_from if year_to is None else year_to
        for value, field in ((year_from, "year_from"), (end, "year_to")):
            if not MIN_YEAR <= value <= MAX_YEAR:
                raise InvalidQuota(f"{field} must lie in {MIN_YEAR}-{MAX_YEAR}", field=field)
        if end < year_from:
            raise InvalidQuota("the period ends before it starts", field="year_to")
        if end - year_from + 1 > MAX_MEDIUM_TERM_YEARS:
            raise InvalidQuota(
                f"a medium-term quota spans at most {MAX_MEDIUM_TERM_YEARS} years",
                field="year_to",
            )
        return cls(year_from, end)

    @property
    def start(self) -> date:
        return date(self.year_from, 1, 1)

    @property
    def end(self) -> date:
        return date(self.year_to, 12, 31)

    def covers(self, year: int) -> bool:
        return self.year_from <= year <= self.year_to


@dataclass(frozen=True)
class QuotaSpec:
    """A quota as it may be established: its rules checked, its counters not yet existing."""

    kind: Kind
    region: str
    period: Period
    category: Category | None
    limit: int

    @classmethod
    def of(
        cls, *, kind: Kind, region: str, period: Period, category: Category | None, limit: int
    ) -> QuotaSpec:
        if kind is Kind.FOREIGN_LABOUR and category is None:
            raise InvalidQuota("a foreign labour quota needs a category", field="category")
        if kind is not Kind.FOREIGN_LABOUR and category is not None:
            raise InvalidQuota(f"a {kind} quota has no category", field="category")
        if limit <= 0:
            raise InvalidQuota("the limit is a positive number of persons", field="limit")
        return cls(kind, region_code(region), period, category, limit)


def region_code(kato: str, *, field: str = "region") -> str:
    """`kato` when it is the own code of one of the 20 regions, else InvalidInput."""
    try:
        return kz.region_by_kato(kato).kato
    except InvalidInput as error:
        raise InvalidQuota(f"unknown region: {error.detail}", field=field) from None


def territory_code(kato: str, *, field: str = "kato") -> tuple[str, str]:
    """(kato, its region) for a region or district KATO code, else InvalidInput."""
    try:
        region = kz.region_of(kato).kato
    except InvalidInput as error:
        raise InvalidQuota(f"unknown territory: {error.detail}", field=field) from None
    return kato, region


@dataclass(frozen=True)
class Quota:
    id: UUID
    kind: Kind
    region: str
    period: Period
    category: Category | None
    limit: int
    reserved: int
    consumed: int
    status: QuotaStatus
    version: int
    created_at: datetime

    @property
    def used(self) -> int:
        return self.reserved + self.consumed

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def utilization(self) -> float:
        return 1.0 if self.limit == 0 else round(self.used / self.limit, 4)


@dataclass(frozen=True)
class Territory:
    id: UUID
    kato: str
    region: str
    kind: TerritoryKind
    effective_from: date
    decision: str
    status: TerritoryStatus
    excluded_from: date | None
    exclusion_decision: str | None
    created_at: datetime


@dataclass(frozen=True)
class Reservation:
    application_id: UUID
    quota_id: UUID | None
    kind: Kind
    region: str
    year: int
    category: Category | None
    persons: int
    status: ReservationStatus
    outcome: Outcome
    denial_reason: DenialReason | None
    remaining_at_denial: int | None
    release_reason: ReleaseReason | None
    requested_at: datetime
    updated_at: datetime
    remaining_at_reservation: int | None = None  # granted: what its quota-reserved said


@dataclass(frozen=True)
class HistoryEntry:
    quota_id: UUID
    seq: int
    action: str
    previous_limit: int | None
    limit: int
    delta: int
    reason: str | None
    reference: str | None
    proposal_id: UUID | None
    actor: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class Counters:
    """A quota's counters as one conditional update left them."""

    limit: int
    reserved: int
    consumed: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.reserved - self.consumed, 0)
