"""In-memory fakes of the quota service's unit of work and of its repositories (one fake per
real one, each satisfying its Protocol in koshiqon.quota.unit_of_work), for unit tests that
drive the handlers through `bootstrap.bootstrap(lambda: uow)`. They keep the rules the SQL
keeps (the conditional counter updates, one ledger row per application id, one active
designation per territory and kind, each proposal applied once) so that the handlers' rules
can be tested alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from support import fakes

from koshiqon.common.events.contracts import EventPayload
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
    TerritoryStatus,
)
from koshiqon.quota.unit_of_work import (
    LedgerRepository,
    ProposalRepository,
    QuotaRepository,
    TerritoryRepository,
)


@dataclass
class State:
    quotas: dict[UUID, Quota] = field(default_factory=dict)
    announced: dict[UUID, set[int]] = field(default_factory=dict)
    history: list[tuple[UUID, int | None, int, str | None]] = field(default_factory=list)
    territories: dict[UUID, Territory] = field(default_factory=dict)
    reservations: dict[UUID, Reservation] = field(default_factory=dict)
    proposals: dict[UUID, str] = field(default_factory=dict)
    proposal_answers: dict[UUID, list[dict[str, Any]]] = field(default_factory=dict)


class FakeRepository:
    """What the fake repositories share: the `State` they read and change, and helpers."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _set(
        self,
        q: Quota,
        *,
        limit: int | None = None,
        reserved: int | None = None,
        consumed: int | None = None,
    ) -> Quota:
        q = replace(
            q,
            version=q.version + 1,
            limit=q.limit if limit is None else limit,
            reserved=q.reserved if reserved is None else reserved,
            consumed=q.consumed if consumed is None else consumed,
        )
        self.state.quotas[q.id] = q
        return q

    def _settle(self, application_id: UUID, **changes: Any) -> Reservation:
        r = self.state.reservations[application_id]
        r = replace(r, denial_reason=None, remaining_at_denial=None, release_reason=None)
        r = replace(r, **changes)
        self.state.reservations[application_id] = r
        return r

    def _mark_thresholds(self, q: Quota) -> list[int]:
        if q.limit <= 0:
            return []
        announced = self.state.announced[q.id]
        due = [t for t in (90, 100) if q.used * 100 >= q.limit * t and t not in announced]
        announced.update(due)
        return due


class FakeQuotaRepository(FakeRepository):
    """Quotas in memory (`QuotaRepository`; the real one: SqlQuotaRepository)."""

    async def lock_series(self, kind: Kind, region: str, category: Category | None) -> None:
        return None

    async def overlapping_quota(self, spec: QuotaSpec, *, closed_too: bool = False) -> UUID | None:
        p = spec.period
        return next(
            (
                q.id
                for q in self.state.quotas.values()
                if (q.status is QuotaStatus.ACTIVE or closed_too)
                and (q.kind, q.region, q.category) == (spec.kind, spec.region, spec.category)
                and q.period.year_from <= p.year_to
                and q.period.year_to >= p.year_from
            ),
            None,
        )

    async def add_quota(
        self, spec: QuotaSpec, *, now: datetime, status: QuotaStatus = QuotaStatus.ACTIVE
    ) -> Quota:
        quota = Quota(
            uuid.uuid4(), spec.kind, spec.region, spec.period, spec.category, spec.limit,
            0, 0, status, 1, now,
        )  # fmt: skip
        self.state.quotas[quota.id] = quota
        self.state.announced[quota.id] = set()
        return quota

    async def get_quota(self, quota_id: UUID) -> Quota | None:
        return self.state.quotas.get(quota_id)

    async def find_quota_for_period(
        self, *, kind: Kind, region: str, period: Period, category: Category | None
    ) -> Quota | None:
        return next(
            (
                q
                for q in self.state.quotas.values()
                if q.status is QuotaStatus.ACTIVE
                and (q.kind, q.region, q.period, q.category) == (kind, region, period, category)
            ),
            None,
        )

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
    ) -> None:
        self.state.history.append((quota_id, previous, limit, actor))

    async def change_limit(
        self, quota_id: UUID, *, delta: int | None, new_limit: int | None, now: datetime
    ) -> tuple[int, Counters] | None:
        q = self.state.quotas.get(quota_id)
        if q is None or q.status is not QuotaStatus.ACTIVE:
            return None
        limit = new_limit if new_limit is not None else q.limit + (delta or 0)
        if limit < q.used:
            return None
        self._set(q, limit=limit)
        return q.limit, Counters(limit, q.reserved, q.consumed)

    async def announce_thresholds(self, quota_id: UUID) -> tuple[list[int], Counters]:
        q = self.state.quotas[quota_id]
        return self._mark_thresholds(q), Counters(q.limit, q.reserved, q.consumed)

    async def quota_to_reserve(
        self,
        *,
        kind: Kind,
        region: str,
        target: str,
        year: int,
        category: Category | None,
        today: date,
    ) -> tuple[Quota | None, bool]:
        quota = next(
            (
                q
                for q in self.state.quotas.values()
                if q.status is QuotaStatus.ACTIVE
                and (q.kind, q.region, q.category) == (kind, region, category)
                and q.period.covers(year)
                and q.period.year_to >= today.year
            ),
            None,
        )
        if quota is None:
            return None, False
        if not kind.needs_designation:
            return quota, True
        on = max(today, quota.period.start)
        # the real statement reads the territories too
        territories = FakeTerritoryRepository(self.state)
        found = await territories.designated(
            kind=TerritoryKind(kind), region=region, target=target, on=on
        )
        return quota, found

    async def move_to_consumed(self, quota_id: UUID, persons: int, *, now: datetime) -> None:
        q = self.state.quotas[quota_id]
        self._set(q, reserved=q.reserved - persons, consumed=q.consumed + persons)

    async def unreserve(self, quota_id: UUID, persons: int, *, now: datetime) -> None:
        q = self.state.quotas[quota_id]
        self._set(q, reserved=q.reserved - persons)

    async def close_ended(self, *, before_year: int, now: datetime) -> int:
        ended = [
            q
            for q in self.state.quotas.values()
            if q.status is QuotaStatus.ACTIVE and q.period.year_to < before_year and not q.reserved
        ]
        for q in ended:
            self.state.quotas[q.id] = replace(q, status=QuotaStatus.CLOSED, version=q.version + 1)
        return len(ended)


class FakeLedgerRepository(FakeRepository):
    """The reservation ledger in memory (`LedgerRepository`; the real one: SqlLedgerRepository).
    What the real statements write to the outbox, it emits in the fake unit of work."""

    def __init__(self, state: State, *, emit: Callable[..., None]) -> None:
        super().__init__(state)
        self.emit = emit

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
    ) -> bool:
        if application_id in self.state.reservations:
            return False
        self.state.reservations[application_id] = Reservation(
            application_id, None, kind, region, year, category, persons, status,
            Outcome.RESERVED, None, None, None, now, now,
        )  # fmt: skip
        return True

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
    ) -> Reservation | None:
        if not await self.claim_application(
            application_id=application_id, kind=kind, region=region, year=year,
            category=category, persons=persons, status=ReservationStatus.PENDING, now=now,
        ):  # fmt: skip
            return None
        q = self.state.quotas[quota_id]
        if q.status is not QuotaStatus.ACTIVE or q.used + persons > q.limit:
            reservation = self._settle(
                application_id, status=ReservationStatus.DENIED, outcome=Outcome.DENIED,
                quota_id=quota_id, denial_reason=DenialReason.EXHAUSTED,
                remaining_at_denial=q.remaining,
            )  # fmt: skip
            self.emit(outcomes.exhausted.model_copy(update={"remaining": q.remaining}),
                      subject=application_id)  # fmt: skip
            return reservation
        q = self._set(q, reserved=q.reserved + persons)
        reached = self._mark_thresholds(q)
        reservation = self._settle(
            application_id, status=ReservationStatus.RESERVED, outcome=Outcome.RESERVED,
            quota_id=quota_id, remaining_at_reservation=q.remaining,
        )  # fmt: skip
        self.emit(outcomes.reserved.model_copy(update={"remaining": q.remaining}),
                  subject=application_id)  # fmt: skip
        figures = {"limit": q.limit, "reserved": q.reserved, "consumed": q.consumed}
        for t in outcomes.thresholds:
            if int(t.threshold.value) in reached:
                self.emit(t.model_copy(update=figures), subject=t.quota_id)
        return reservation

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
    ) -> Reservation | None:
        if not await self.claim_application(
            application_id=application_id, kind=kind, region=region, year=year,
            category=category, persons=persons, status=ReservationStatus.PENDING, now=now,
        ):  # fmt: skip
            return None
        self.emit(denied, subject=application_id)
        return self._settle(
            application_id, status=ReservationStatus.DENIED, outcome=Outcome.DENIED,
            quota_id=quota_id, denial_reason=reason,
        )  # fmt: skip

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
    ) -> Reservation:
        return self._settle(
            application_id, status=status, outcome=outcome, quota_id=quota_id,
            denial_reason=denial, remaining_at_denial=remaining, release_reason=release,
        )  # fmt: skip

    async def get_reservation(self, application_id: UUID) -> Reservation | None:
        return self.state.reservations.get(application_id)

    async def transition(
        self,
        application_id: UUID,
        *,
        to: ReservationStatus,
        now: datetime,
        release: ReleaseReason | None = None,
    ) -> Reservation | None:
        r = self.state.reservations.get(application_id)
        if r is None or r.status is not ReservationStatus.RESERVED:
            return None
        r = replace(r, status=to, updated_at=now, release_reason=release or r.release_reason)
        self.state.reservations[application_id] = r
        return r

    async def expire_ended(self, *, before_year: int, now: datetime) -> list[Reservation]:
        ended = {q.id for q in self.state.quotas.values() if q.period.year_to < before_year}
        expired = sorted(
            (
                r
                for r in self.state.reservations.values()
                if r.status is ReservationStatus.RESERVED and r.quota_id in ended
            ),
            key=lambda r: (str(r.quota_id), str(r.application_id)),
        )
        for r in expired:
            assert r.quota_id is not None
            q = self.state.quotas[r.quota_id]
            self._set(q, reserved=q.reserved - r.persons)
            self.state.reservations[r.application_id] = replace(
                r, status=ReservationStatus.EXPIRED, updated_at=now
            )
        return [self.state.reservations[r.application_id] for r in expired]


class FakeTerritoryRepository(FakeRepository):
    """Territories in memory (`TerritoryRepository`; the real one: SqlTerritoryRepository)."""

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
    ) -> Territory | None:
        if any(
            (t.kato, t.kind, t.status) == (kato, kind, TerritoryStatus.ACTIVE)
            for t in self.state.territories.values()
        ):
            return None
        territory = Territory(
            uuid.uuid4(), kato, region, kind, effective_from, decision, TerritoryStatus.ACTIVE,
            None, None, now,
        )  # fmt: skip
        self.state.territories[territory.id] = territory
        return territory

    async def get_territory(self, territory_id: UUID) -> Territory | None:
        return self.state.territories.get(territory_id)

    async def active_territories(self, kato: str, kinds: Sequence[TerritoryKind]) -> list[UUID]:
        return [
            t.id
            for t in self.state.territories.values()
            if t.kato == kato and t.status is TerritoryStatus.ACTIVE and t.kind in kinds
        ]

    async def exclude_territory(
        self, territory_id: UUID, *, effective_from: date, decision: str, now: datetime
    ) -> Territory | None:
        t = self.state.territories.get(territory_id)
        if t is None or t.status is not TerritoryStatus.ACTIVE:
            return None
        t = replace(
            t,
            status=TerritoryStatus.EXCLUDED,
            excluded_from=effective_from,
            exclusion_decision=decision,
        )
        self.state.territories[territory_id] = t
        return t

    async def designated(
        self, *, kind: TerritoryKind, region: str, target: str, on: date | None
    ) -> bool:
        return any(
            t.kind is kind
            and t.region == region
            and (t.kato in (target, region) or target == region)
            and (
                t.status is TerritoryStatus.ACTIVE
                if on is None
                else t.effective_from <= on and (t.excluded_from is None or t.excluded_from > on)
            )
            for t in self.state.territories.values()
        )


class FakeProposalRepository(FakeRepository):
    """Applied proposals in memory (`ProposalRepository`; the real one: SqlProposalRepository)."""

    async def claim_proposal(self, proposal_id: UUID, *, now: datetime) -> bool:
        if proposal_id in self.state.proposals:
            return False
        self.state.proposals[proposal_id] = "applied"
        return True

    async def mark_proposal_refused(self, proposal_id: UUID) -> None:
        self.state.proposals[proposal_id] = "refused"

    async def record_answer(self, proposal_id: UUID, answer: list[dict[str, Any]]) -> None:
        self.state.proposal_answers[proposal_id] = answer

    async def answer_of(self, proposal_id: UUID) -> list[dict[str, Any]] | None:
        return self.state.proposal_answers.get(proposal_id)


class FakeUnitOfWork(fakes.FakeUnitOfWork[State]):
    """One in-memory "transaction" over a `State` (support.fakes): changes made without
    `commit` are undone at exit; committed events land in `published`."""

    quotas: QuotaRepository
    ledger: LedgerRepository
    territories: TerritoryRepository
    proposals: ProposalRepository

    def __init__(self, state: State | None = None) -> None:
        super().__init__(state or State())

    def bind(self) -> None:
        self.quotas = FakeQuotaRepository(self.state)
        self.ledger = FakeLedgerRepository(self.state, emit=self.emit)
        self.territories = FakeTerritoryRepository(self.state)
        self.proposals = FakeProposalRepository(self.state)
