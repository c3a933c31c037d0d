"""What the quota service is asked to do: one command per use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from koshiqon.quota.domain.model import (
    Category,
    Kind,
    Period,
    QuotaSpec,
    ReleaseReason,
    TerritoryKind,
)


@dataclass(frozen=True)
class EstablishQuota:
    spec: QuotaSpec
    reference: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class AdjustQuota:
    """Change a limit by `delta` or to `new_limit` (exactly one), with a reason and a
    reference (a proposal id or an order number)."""

    quota_id: UUID
    reason: str
    reference: str
    delta: int | None = None
    new_limit: int | None = None
    proposal_id: UUID | None = None
    actor: str | None = None


@dataclass(frozen=True)
class DesignateTerritory:
    kato: str
    kind: TerritoryKind
    effective_from: date
    decision: str
    proposal_id: UUID | None = None


@dataclass(frozen=True)
class ExcludeTerritory:
    territory_id: UUID
    effective_from: date
    decision: str
    proposal_id: UUID | None = None


@dataclass(frozen=True)
class ReserveQuota:
    """Reserve `persons` of the quota of `kind` in `region` for `year` for one application."""

    application_id: UUID
    kind: Kind
    region: str
    year: int
    persons: int
    category: Category | None = None


@dataclass(frozen=True)
class ConsumeReservation:
    application_id: UUID


@dataclass(frozen=True)
class Tombstone:
    """What a withdrawal says about its application, kept when it overtook its request."""

    kind: Kind
    region: str
    year: int
    persons: int


@dataclass(frozen=True)
class ReleaseReservation:
    """Free a reservation. With `tombstone`, when none exists yet (a withdrawal that
    overtook its request), record the withdrawal so that the late request reserves nothing."""

    application_id: UUID
    reason: ReleaseReason
    tombstone: Tombstone | None = None


@dataclass(frozen=True)
class ExpireReservations:
    """Release every reservation of a quota whose period ended before `today`."""

    today: date


@dataclass(frozen=True)
class ImportQuotaOrder:
    csv_text: str
    order: str
    actor: str | None = None


@dataclass(frozen=True)
class AdjustQuotaOf:
    """An approved proposal's adjustment: the quota is found by what it is, not by id."""

    proposal_id: UUID
    kind: Kind
    region: str
    period: Period
    category: Category | None
    reason: str
    delta: int | None = None
    new_limit: int | None = None


@dataclass(frozen=True)
class ExcludeTerritoriesOf:
    """An approved proposal's exclusion: every active designation of `kato` for `kinds`."""

    proposal_id: UUID
    kato: str
    kinds: tuple[TerritoryKind, ...]
    effective_from: date
    decision: str
