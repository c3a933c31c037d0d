"""In-memory fakes of the quota service's unit of work and repository, for unit tests that
drive the handlers through `bootstrap.Bus` (its `unit_of_work` factory). They keep the rules
the SQL keeps (the conditional counter updates, one ledger row per application id, one
active designation per territory and kind) so that the handlers' rules can be tested alone."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from koshiqon.common.events.envelope import Envelope
from koshiqon.quota.domain.model import (
    Category,
    Counters,
    DenialReason,
    Kind,
    Outcome,
    Quota,
    QuotaSpec,
    QuotaStatus,
    ReleaseReason,
    Reservation,
    ReservationStatus,
    Reserved,
    Territory,
    TerritoryKind,
    TerritoryStatus,
)
from koshiqon.quota.unit_of_work import UnitOfWork


@dataclass
class State:
    quotas: dict[UUID, Quota] = field(default_factory=dict)
    announced: dict[UUID, set[int]] = field(default_factory=dict)
    history: list[tuple[UUID, int | None, int]] = field(default_factory=list)
    territories: dict[UUID, Territory] = field(default_factory=dict)
    reservations: dict[UUID, Reservation] = field(default_factory=dict)
    proposals: dict[UUID, str] = field(default_factory=dict)


class FakeRepository:
    """What the fake repositories share: the `State` they read and change, and helpers."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _set(self, q: Quota, **changes: int) -> Quota:
        q = replace(q, version=q.version + 1, **changes)  # type: ignore[arg-type]
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
    """The methods of the real repository of quotas that the handlers call."""

    async def lock_series(self, kind: Kind, region: str, category: Category | None) -> None:
        return None

    async def overlapping_quota(self, spec: QuotaSpec) -> UUID | None:
        p = spec.period
        return next(
            (
                q.id
                for q in self.state.quotas.values()
                if q.status is QuotaStatus.ACTIVE
                and (q.kind, q.region, q.category) == (spec.kind, spec.region, spec.category)
                and q.period.year_from <= p.year_to
                and q.period.year_to >= p.year_from
            ),
            None,
        )

    async def add_quota(self, spec: QuotaSpec, *, now: datetime) -> Quota:
        quota = Quota(
            uuid.uuid4(), spec.kind, spec.region, spec.period, spec.category, spec.limit,
            0, 0, QuotaStatus.ACTIVE, 1, now,
        )  # fmt: skip
        self.state.quotas[quota.id] = quota
        self.state.announced[quota.id] = set()
        return quota

    async def get_quota(self, quota_id: UUID) -> Quota | None:
        return self.state.quotas.get(quota_id)

    async def add_history(
        self, quota_id: UUID, *, previous: int | None, limit: int, **_: Any
    ) -> None:
        self.state.history.append((quota_id, previous, limit))

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


class FakeLedgerRepository(FakeRepository):
    """The methods of the real repository of the reservation ledger that the handlers call."""

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
        self, application_id: UUID, quota_id: UUID, persons: int, *, now: datetime
    ) -> Reserved | None:
        q = self.state.quotas[quota_id]
        if q.status is not QuotaStatus.ACTIVE or q.used + persons > q.limit:
            return None
        q = self._set(q, reserved=q.reserved + persons)
        reached = tuple(self._mark_thresholds(q))
        reservation = self._settle(
            application_id, status=ReservationStatus.RESERVED, outcome=Outcome.RESERVED,
            quota_id=quota_id,
        )  # fmt: skip
        return Reserved(reservation, Counters(q.limit, q.reserved, q.consumed), reached)

    async def deny(
        self, application_id: UUID, *, reason: DenialReason, quota_id: UUID | None
    ) -> Reservation:
        remaining = None
        if reason is DenialReason.EXHAUSTED and quota_id is not None:
            remaining = self.state.quotas[quota_id].remaining
        return self._settle(
            application_id, status=ReservationStatus.DENIED, outcome=Outcome.DENIED,
            quota_id=quota_id, denial_reason=reason, remaining_at_denial=remaining,
        )  # fmt: skip

    async def settle(
        self,
        application_id: UUID,
        *,
        status: ReservationStatus,
        outcome: Outcome,
        quota_id: UUID | None = None,
        release: ReleaseReason | None = None,
    ) -> Reservation:
        return self._settle(
            application_id, status=status, outcome=outcome, quota_id=quota_id,
            release_reason=release,
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


class FakeTerritoryRepository(FakeRepository):
    """The methods of the real repository of territories that the handlers call."""

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


class FakeUnitOfWork(UnitOfWork):
    """One in-memory "transaction": changes made without `commit` are undone at exit; the
    events of committed work land in `published` (what the outbox would hold)."""

    def __init__(self, state: State | None = None) -> None:
        super().__init__()
        self.state = state or State()
        self.published: list[Envelope] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        self._before = copy.deepcopy(self.state)
        self.quotas = FakeQuotaRepository(self.state)  # type: ignore[assignment]
        self.ledger = FakeLedgerRepository(self.state)  # type: ignore[assignment]
        self.territories = FakeTerritoryRepository(self.state)  # type: ignore[assignment]
        self.events = []
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            self.state.__dict__.update(self._before.__dict__)
        self.events = []

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before, mark = copy.deepcopy(self.state), len(self.events)
        try:
            yield
        except BaseException:
            self.state.__dict__.update(before.__dict__)
            del self.events[mark:]
            raise

    async def commit(self) -> None:
        self.published += self.events
        self.events = []
        self._committed = True
        self.commits += 1

    def published_types(self) -> list[str]:
        return [e.type.split(".")[-2] for e in self.published]
