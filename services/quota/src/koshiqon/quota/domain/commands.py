"""What the quota service is asked to do: one command per use case, each a
`Command[Result]` carrying the `Actor` who asks (the history records its subject).

`AdjustQuotaOf` and `ExcludeTerritoriesOf` are steps of an approved proposal, not commands
of their own: `ApplyProposal` carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from koshiqon.common.messagebus import Actor, Command
from koshiqon.quota.domain.model import (
    Category,
    Kind,
    Period,
    Quota,
    QuotaSpec,
    ReleaseReason,
    Reservation,
    Territory,
    TerritoryKind,
)
from koshiqon.quota.domain.orders import ImportedOrder

WORKER = Actor(subject="quota-worker")  # the consumers and the scheduler act as it


@dataclass(frozen=True)
class EstablishQuota(Command[Quota]):
    spec: QuotaSpec
    reference: str | None = None


@dataclass(frozen=True)
class AdjustQuota(Command[Quota]):
    """Change a limit by `delta` or to `new_limit` (exactly one), with a reason and a
    reference (a proposal id or an order number)."""

    quota_id: UUID
    reason: str
    reference: str
    delta: int | None = None
    new_limit: int | None = None
    proposal_id: UUID | None = None


@dataclass(frozen=True)
class DesignateTerritory(Command[Territory]):
    kato: str
    kind: TerritoryKind
    effective_from: date
    decision: str
    proposal_id: UUID | None = None


@dataclass(frozen=True)
class ExcludeTerritory(Command[Territory]):
    territory_id: UUID
    effective_from: date
    decision: str
    proposal_id: UUID | None = None


@dataclass(frozen=True)
class ReserveQuota(Command[Reservation]):
    """Reserve `persons` of the quota of `kind` in `region` for `year` for one application;
    an actor limited to a region reserves only into it."""

    application_id: UUID
    kind: Kind
    region: str
    year: int
    persons: int
    category: Category | None = None


@dataclass(frozen=True)
class ConsumeReservation(Command[Reservation]):
    application_id: UUID


@dataclass(frozen=True)
class Tombstone:
    """What a withdrawal says about its application, kept when it overtook its request."""

    kind: Kind
    region: str
    year: int
    persons: int


@dataclass(frozen=True)
class ReleaseReservation(Command[Reservation]):
    """Free a reservation (an actor limited to a region only one of its region). With
    `tombstone`, when none exists yet (a withdrawal that overtook its request), record the
    withdrawal so that the late request reserves nothing."""

    application_id: UUID
    reason: ReleaseReason
    tombstone: Tombstone | None = None


@dataclass(frozen=True)
class ExpireReservations(Command[int]):
    """Release every reservation of a quota whose period ended before `today`; the result
    is how many expired."""

    today: date


@dataclass(frozen=True)
class ImportQuotaOrder(Command[ImportedOrder]):
    csv_text: str
    order: str


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


ProposalStep = AdjustQuotaOf | DesignateTerritory | ExcludeTerritoriesOf


@dataclass(frozen=True)
class ApplyProposal(Command[bool]):
    """Apply an approved proposal's effect once (True), or record and publish why it cannot
    be applied (False)."""

    proposal_id: UUID
    region: str
    effect: str
    steps: tuple[ProposalStep, ...]
