"""The reservation ledger: one row per resettlement application, and the reservation that
moves persons onto a quota's counters in the same statement (`reserve`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from koshiqon.quota.adapters.repository.sql import (
    SqlRepository,
    reservation_of,
)
from koshiqon.quota.domain.model import (
    Category,
    Counters,
    DenialReason,
    Kind,
    Outcome,
    ReleaseReason,
    Reservation,
    ReservationStatus,
    Reserved,
)


class SqlLedgerRepository(SqlRepository):
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
        """Insert the application's ledger row; False when it already has one (the first
        request for an application id wins, concurrent duplicates wait for it)."""
        row = await self._one(
            "INSERT INTO reservations (application_id, kind, region, year, category, persons, "
            "status, requested_at, updated_at) VALUES (:id, :kind, :region, :year, :category, "
            ":persons, :status, :now, :now) ON CONFLICT (application_id) DO NOTHING "
            "RETURNING application_id",
            id=application_id,
            kind=kind,
            region=region,
            year=year,
            category=category,
            persons=persons,
            status=status,
            now=now,
        )
        return row is not None

    async def reserve(
        self, application_id: UUID, quota_id: UUID, persons: int, *, now: datetime
    ) -> Reserved | None:
        """Reserve `persons` on the quota and settle the application's ledger entry as
        reserved, in one statement; None (and nothing written) when they do not fit.

        This takes the quota row's lock, which every reserver of the quota waits for until
        commit: call it last in the transaction. The conditional UPDATE carries the rule
        (reserved + consumed + n <= limit, backed by the CHECK constraint) and marks the 90 %
        and 100 % thresholds; `old.` gives the marks as they were, so each is reached once."""
        row = await self._one(
            "WITH q AS (UPDATE quotas SET reserved = reserved + :n, version = version + 1, "
            "updated_at = :now, announced_90 = announced_90 OR "
            '(reserved + consumed + :n) * 10 >= "limit" * 9, '
            'announced_100 = announced_100 OR reserved + consumed + :n >= "limit" '
            "WHERE id = :quota_id AND status = 'active' "
            'AND reserved + consumed + :n <= "limit" RETURNING new."limit", new.reserved, '
            "new.consumed, new.announced_90 AND NOT old.announced_90 AS reached_90, "
            "new.announced_100 AND NOT old.announced_100 AS reached_100), "
            "r AS (UPDATE reservations SET status = 'reserved', outcome = 'reserved', "
            "quota_id = :quota_id, denial_reason = NULL, remaining_at_denial = NULL, "
            "release_reason = NULL WHERE application_id = :id AND EXISTS (SELECT FROM q) "
            "RETURNING *) SELECT * FROM q CROSS JOIN r",
            id=application_id,
            quota_id=quota_id,
            n=persons,
            now=now,
        )
        if row is None:
            return None
        reached = ((90,) if row.reached_90 else ()) + ((100,) if row.reached_100 else ())
        counters = Counters(row.limit, row.reserved, row.consumed)
        return Reserved(reservation_of(row), counters, reached)

    async def deny(
        self, application_id: UUID, *, reason: DenialReason, quota_id: UUID | None
    ) -> Reservation:
        """Settle the application's ledger entry as denied; an exhausted quota's remaining
        persons (read now, outside any lock) go with it."""
        row = await self._one(
            "UPDATE reservations SET status = 'denied', outcome = 'denied', "
            "quota_id = :quota_id, denial_reason = :reason, release_reason = NULL, "
            "remaining_at_denial = CASE WHEN :reason = 'exhausted' THEN (SELECT "
            'greatest("limit" - reserved - consumed, 0) FROM quotas WHERE id = :quota_id) '
            "END WHERE application_id = :id RETURNING *",
            id=application_id,
            reason=reason,
            quota_id=quota_id,
        )
        assert row is not None
        return reservation_of(row)

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
        row = await self._one(
            "UPDATE reservations SET status = :status, outcome = :outcome, quota_id = :quota_id, "
            "denial_reason = :denial, remaining_at_denial = :remaining, "
            "release_reason = :release WHERE application_id = :id RETURNING *",
            id=application_id,
            status=status,
            outcome=outcome,
            quota_id=quota_id,
            denial=denial,
            remaining=remaining,
            release=release,
        )
        assert row is not None
        return reservation_of(row)

    async def get_reservation(self, application_id: UUID) -> Reservation | None:
        row = await self._one(
            "SELECT * FROM reservations WHERE application_id = :id", id=application_id
        )
        return None if row is None else reservation_of(row)

    async def transition(
        self,
        application_id: UUID,
        *,
        to: ReservationStatus,
        now: datetime,
        release: ReleaseReason | None = None,
    ) -> Reservation | None:
        """Move a `reserved` entry to `to`; None when it is not `reserved` (each entry
        changes state at most once per transition)."""
        row = await self._one(
            "UPDATE reservations SET status = :to, updated_at = :now, "
            "release_reason = coalesce(:release, release_reason) "
            "WHERE application_id = :id AND status = 'reserved' RETURNING *",
            id=application_id,
            to=to,
            now=now,
            release=release,
        )
        return None if row is None else reservation_of(row)

    async def expire_ended(self, *, before_year: int, now: datetime) -> list[Reservation]:
        """Expire every reservation of a quota whose period ended before `before_year`,
        and give the persons back to the quota, in one statement."""
        rows = await self._all(
            "WITH expired AS (UPDATE reservations SET status = 'expired', updated_at = :now "
            "WHERE status = 'reserved' AND quota_id IN (SELECT id FROM quotas "
            "WHERE year_to < :year) RETURNING *), "
            "sums AS (SELECT quota_id, sum(persons) AS n FROM expired GROUP BY quota_id), "
            "counted AS (UPDATE quotas q SET reserved = q.reserved - sums.n, "
            "version = q.version + 1, updated_at = :now FROM sums WHERE q.id = sums.quota_id "
            "RETURNING q.id) SELECT * FROM expired ORDER BY quota_id, application_id",
            year=before_year,
            now=now,
        )
        return [reservation_of(r) for r in rows]
