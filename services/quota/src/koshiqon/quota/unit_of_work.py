"""The quota service's unit of work: what the handlers see of it (`UnitOfWork`, its
repositories typed as Protocols, which the SQL repositories and the tests' fakes satisfy)
and the real one, `SqlUnitOfWork`: one transaction on the service's engine (API requests,
the scheduler) or borrowed from the consumer runner (consumed events), the events written
to the outbox at `commit` (koshiqon.common.unit_of_work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from koshiqon.common import unit_of_work as common
from koshiqon.common.events.contracts import EventPayload
from koshiqon.quota.adapters.repository import (
    SqlLedgerRepository,
    SqlProposalRepository,
    SqlQuotaRepository,
    SqlTerritoryRepository,
)
from koshiqon.quota.domain.announcements import Outcomes
from koshiqon.quota.domain.model import (
    Category,
    Counters,
    DenialReason,
    Kind,
    Outcome,
    Period,
    Quota,
    QuotaSpec,
    QuotaStatus,
    ReleaseReason,
    Reservation,
    ReservationStatus,
    Territory,
    TerritoryKind,
)


class QuotaRepository(Protocol):
    """Quotas: their series, limits, counters, thresholds and history."""

    async def lock_series(self, kind: Kind, region: str, category: Category | None) -> None: ...

    async def overlapping_quota(
        self, spec: QuotaSpec, *, closed_too: bool = False
    ) -> UUID | None: ...

    async def add_quota(
        self, spec: QuotaSpec, *, now: datetime, status: QuotaStatus = QuotaStatus.ACTIVE
    ) -> Quota: ...

    async def get_quota(self, quota_id: UUID) -> Quota | None: ...

    async def quota_to_reserve(
        self,
        *,
        kind: Kind,
        region: str,
        target: str,
        year: int,
        category: Category | None,
        today: date,
    ) -> tuple[Quota | None, bool]: ...

    async def find_quota_for_period(
        self, *, kind: Kind, region: str, period: Period, category: Category | None
    ) -> Quota | None: ...

    async def change_limit(
        self, quota_id: UUID, *, delta: int | None, new_limit: int | None, now: datetime
    ) -> tuple[int, Counters] | None: ...

    async def move_to_consumed(self, quota_id: UUID, persons: int, *, now: datetime) -> None: ...

    async def unreserve(self, quota_id: UUID, persons: int, *, now: datetime) -> None: ...

    async def announce_thresholds(self, quota_id: UUID) -> tuple[list[int], Counters]: ...

    async def add_history(
        self,
        quota_id: UUID,
        *,
        previous: int | None,
        limit: int,
        reason: str | None,
        reference: str | None,
        proposal_id: UUID | None,
        actor: str | None,
        now: datetime,
    ) -> None: ...

    async def close_ended(self, *, before_year: int, now: datetime) -> int: ...


class LedgerRepository(Protocol):
    """The reservation ledger: one entry per resettlement application."""

    async def claim_application(
        self,
        *,
        application_id: UUID,
        kind: Kind,
        region: str,
        year: int,
        category: Category | None,
        persons: int,
        status: ReservationStatus,
        now: datetime,
    ) -> bool: ...

    async def reserve(
        self,
        *,
        application_id: UUID,
        quota_id: UUID,
        kind: Kind,
        region: str,
        year: int,
        category: Category | None,
        persons: int,
        outcomes: Outcomes,
        now: datetime,
    ) -> Reservation | None: ...

    async def deny(
        self,
        *,
        application_id: UUID,
        kind: Kind,
        region: str,
        year: int,
        category: Category | None,
        persons: int,
        reason: DenialReason,
        quota_id: UUID | None,
        denied: EventPayload,
        now: datetime,
    ) -> Reservation | None: ...

    async def settle(
        self,
        application_id: UUID,
        *,
        status: ReservationStatus,
        outcome: Outcome,
        quota_id: UUID | None = None,
        denial: DenialReason | None = None,
        remaining: int | None = None,
        release: ReleaseReason | None = None,
    ) -> Reservation: ...

    async def get_reservation(self, application_id: UUID) -> Reservation | None: ...

    async def transition(
        self,
        application_id: UUID,
        *,
        to: ReservationStatus,
        now: datetime,
        release: ReleaseReason | None = None,
    ) -> Reservation | None: ...

    async def expire_ended(self, *, before_year: int, now: datetime) -> list[Reservation]: ...


class TerritoryRepository(Protocol):
    """Territories designated for resettlement, and their exclusion."""

    async def add_territory(
        self,
        *,
        kato: str,
        region: str,
        kind: TerritoryKind,
        effective_from: date,
        decision: str,
        proposal_id: UUID | None,
        now: datetime,
    ) -> Territory | None: ...

    async def get_territory(self, territory_id: UUID) -> Territory | None: ...

    async def active_territories(self, kato: str, kinds: Sequence[TerritoryKind]) -> list[UUID]: ...

    async def exclude_territory(
        self, territory_id: UUID, *, effective_from: date, decision: str, now: datetime
    ) -> Territory | None: ...

    async def designated(
        self, *, kind: TerritoryKind, region: str, target: str, on: date | None
    ) -> bool: ...


class ProposalRepository(Protocol):
    """Approved proposals whose effect was applied or refused: each is applied once."""

    async def claim_proposal(self, proposal_id: UUID, *, now: datetime) -> bool: ...

    async def mark_proposal_refused(self, proposal_id: UUID) -> None: ...

    async def record_answer(self, proposal_id: UUID, answer: list[dict[str, Any]]) -> None: ...

    async def answer_of(self, proposal_id: UUID) -> list[dict[str, Any]] | None: ...


class UnitOfWork(common.UnitOfWork, Protocol):
    """What the handlers use: the four repositories, `emit`, `savepoint`, `commit`."""

    quotas: QuotaRepository
    ledger: LedgerRepository
    territories: TerritoryRepository
    proposals: ProposalRepository


class SqlUnitOfWork(common.SqlUnitOfWork):
    """The real unit of work, its repositories over the transaction's connection."""

    source: ClassVar[str] = "/koshiqon/quota"
    quotas: QuotaRepository
    ledger: LedgerRepository
    territories: TerritoryRepository
    proposals: ProposalRepository

    def bind(self, transaction: common.Transaction) -> None:
        self.quotas = SqlQuotaRepository(transaction)
        self.ledger = SqlLedgerRepository(transaction, envelope=self.envelope)
        self.territories = SqlTerritoryRepository(transaction)
        self.proposals = SqlProposalRepository(transaction)
