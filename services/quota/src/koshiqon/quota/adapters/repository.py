"""Every query of the quota service. Counters change only by conditional UPDATEs whose WHERE
clause carries the rule (`reserved + consumed + :n <= limit`), so concurrent requests are
serialized by the quota row's lock and re-checked by PostgreSQL, never read-modify-written."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from koshiqon.quota.domain.model import (
    Category,
    Counters,
    DenialReason,
    HistoryEntry,
    Kind,
    Outcome,
    Period,
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

_QUOTA_COLUMNS = (
    'id, kind, region, year_from, year_to, category, "limit", reserved, consumed, status, '
    "version, created_at"
)
_COUNTERS = 'RETURNING "limit", reserved, consumed'


class QuotaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, sql: str, **params: Any) -> Row[Any] | None:
        connection = await self.session.connection()  # Core: no ORM work per statement
        return (await connection.execute(_text(sql), params)).first()

    async def _all(self, sql: str, **params: Any) -> Sequence[Row[Any]]:
        connection = await self.session.connection()
        return (await connection.execute(_text(sql), params)).all()

    # --- quotas ---------------------------------------------------------------------------

    async def lock_series(self, kind: Kind, region: str, category: Category | None) -> None:
        """Serialize establishing quotas of one (kind, region, category) till commit."""
        key = f"quota:{kind}:{region}:{category or ''}"
        await self._one("SELECT pg_advisory_xact_lock(hashtext(:key))", key=key)

    async def overlapping_quota(self, spec: QuotaSpec) -> UUID | None:
        row = await self._one(
            "SELECT id FROM quotas WHERE status = 'active' AND kind = :kind AND region = :region "
            "AND category IS NOT DISTINCT FROM :category "
            "AND year_from <= :year_to AND year_to >= :year_from LIMIT 1",
            **_spec_params(spec),
        )
        return None if row is None else row.id

    async def add_quota(self, spec: QuotaSpec, *, now: datetime) -> Quota:
        row = await self._one(
            'INSERT INTO quotas (id, kind, region, year_from, year_to, category, "limit", '
            "created_at, updated_at) VALUES (:id, :kind, :region, :year_from, :year_to, "
            f":category, :limit, :now, :now) RETURNING {_QUOTA_COLUMNS}",
            id=uuid.uuid4(),
            now=now,
            limit=spec.limit,
            **_spec_params(spec),
        )
        assert row is not None
        return _quota(row)

    async def get_quota(self, quota_id: UUID) -> Quota | None:
        row = await self._one(f"SELECT {_QUOTA_COLUMNS} FROM quotas WHERE id = :id", id=quota_id)
        return None if row is None else _quota(row)

    async def list_quotas(
        self,
        *,
        kind: Kind | None,
        region: str | None,
        year: int | None,
        after: UUID | None,
        limit: int,
    ) -> list[Quota]:
        rows = await self._all(
            f"SELECT {_QUOTA_COLUMNS} FROM quotas WHERE (CAST(:kind AS text) IS NULL OR "
            "kind = :kind) AND (CAST(:region AS text) IS NULL OR region = :region) AND "
            "(CAST(:year AS integer) IS NULL OR :year BETWEEN year_from AND year_to) AND "
            "(CAST(:after AS uuid) IS NULL OR id > :after) ORDER BY id LIMIT :n",
            kind=kind,
            region=region,
            year=year,
            after=after,
            n=limit,
        )
        return [_quota(r) for r in rows]

    async def find_quota(
        self, *, kind: Kind, region: str, year: int, category: Category | None, open_in: int
    ) -> Quota | None:
        """The active quota a reservation for `year` draws from, if its period has not
        ended before the year `open_in`."""
        row = await self._one(
            f"SELECT {_QUOTA_COLUMNS} FROM quotas WHERE status = 'active' AND kind = :kind "
            "AND region = :region AND category IS NOT DISTINCT FROM :category "
            "AND :year BETWEEN year_from AND year_to AND year_to >= :open_in",
            kind=kind,
            region=region,
            category=category,
            year=year,
            open_in=open_in,
        )
        return None if row is None else _quota(row)

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
        """`find_quota` (open in `today`'s year) and whether `target` is designated for `kind`
        on the later of `today` and the quota's start (see `designated`), in one statement.
        A kind that needs no designation is always designated."""
        row = await self._one(
            f"SELECT {_QUOTA_COLUMNS}, (NOT CAST(:needs AS boolean) OR EXISTS (SELECT 1 FROM "
            "territories t WHERE t.kind = :kind AND t.region = :region AND (t.kato = :target "
            "OR t.kato = :region OR :target = :region) AND t.effective_from <= o.on "
            "AND (t.excluded_from IS NULL OR t.excluded_from > o.on))) AS designated "
            "FROM quotas q CROSS JOIN LATERAL (SELECT greatest(CAST(:today AS date), "
            "make_date(q.year_from, 1, 1)) AS on) o WHERE q.status = 'active' "
            "AND q.kind = :kind AND q.region = :region AND q.category IS NOT DISTINCT FROM "
            ":category AND :year BETWEEN q.year_from AND q.year_to AND q.year_to >= :open_in",
            needs=kind.needs_designation,
            kind=kind,
            region=region,
            target=target,
            category=category,
            year=year,
            today=today,
            open_in=today.year,
        )
        if row is None:
            return None, False
        return _quota(row), bool(row.designated)

    async def find_quota_for_period(
        self, *, kind: Kind, region: str, period: Period, category: Category | None
    ) -> Quota | None:
        row = await self._one(
            f"SELECT {_QUOTA_COLUMNS} FROM quotas WHERE status = 'active' AND kind = :kind "
            "AND region = :region AND category IS NOT DISTINCT FROM :category "
            "AND year_from = :year_from AND year_to = :year_to",
            kind=kind,
            region=region,
            category=category,
            year_from=period.year_from,
            year_to=period.year_to,
        )
        return None if row is None else _quota(row)

    async def change_limit(
        self, quota_id: UUID, *, delta: int | None, new_limit: int | None, now: datetime
    ) -> tuple[int, Counters] | None:
        """Set the limit, unless the quota is closed or the new limit is below what is
        reserved and consumed: (previous limit, counters after) or None."""
        row = await self._one(
            'UPDATE quotas q SET "limit" = coalesce(:new_limit, q."limit" + :delta), '
            "version = q.version + 1, updated_at = :now "
            'FROM (SELECT id, "limit" AS previous FROM quotas WHERE id = :id FOR UPDATE) p '
            "WHERE q.id = p.id AND q.status = 'active' "
            'AND coalesce(:new_limit, q."limit" + :delta) >= q.reserved + q.consumed '
            'RETURNING p.previous, q."limit", q.reserved, q.consumed',
            id=quota_id,
            delta=delta,
            new_limit=new_limit,
            now=now,
        )
        if row is None:
            return None
        return int(row.previous), Counters(row.limit, row.reserved, row.consumed)

    async def try_reserve(self, quota_id: UUID, persons: int, *, now: datetime) -> Counters | None:
        row = await self._one(
            "UPDATE quotas SET reserved = reserved + :n, version = version + 1, "
            "updated_at = :now WHERE id = :id AND status = 'active' "
            f'AND reserved + consumed + :n <= "limit" {_COUNTERS}',
            id=quota_id,
            n=persons,
            now=now,
        )
        return None if row is None else Counters(row.limit, row.reserved, row.consumed)

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
        return Reserved(_reservation(row), counters, reached)

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
        return _reservation(row)

    async def remaining(self, quota_id: UUID) -> int:
        row = await self._one(
            'SELECT greatest("limit" - reserved - consumed, 0) AS n FROM quotas WHERE id = :id',
            id=quota_id,
        )
        return 0 if row is None else int(row.n)

    async def move_to_consumed(self, quota_id: UUID, persons: int, *, now: datetime) -> None:
        await self._one(
            "UPDATE quotas SET reserved = reserved - :n, consumed = consumed + :n, "
            "version = version + 1, updated_at = :now WHERE id = :id RETURNING id",
            id=quota_id,
            n=persons,
            now=now,
        )

    async def unreserve(self, quota_id: UUID, persons: int, *, now: datetime) -> None:
        await self._one(
            "UPDATE quotas SET reserved = reserved - :n, version = version + 1, "
            "updated_at = :now WHERE id = :id RETURNING id",
            id=quota_id,
            n=persons,
            now=now,
        )

    async def announce_thresholds(self, quota_id: UUID) -> tuple[list[int], Counters]:
        """Mark the 90 % and 100 % thresholds the quota's use has reached and that were never
        announced; returns the newly marked ones (each is returned once per quota, ever)."""
        row = await self._one(
            "UPDATE quotas q SET announced_90 = q.announced_90 OR "
            '(q.reserved + q.consumed) * 10 >= q."limit" * 9, '
            'announced_100 = q.announced_100 OR q.reserved + q.consumed >= q."limit" '
            "FROM (SELECT id, announced_90 AS was_90, announced_100 AS was_100 FROM quotas "
            'WHERE id = :id FOR UPDATE) o WHERE q.id = o.id AND q."limit" > 0 AND ('
            '(NOT q.announced_90 AND (q.reserved + q.consumed) * 10 >= q."limit" * 9) OR '
            '(NOT q.announced_100 AND q.reserved + q.consumed >= q."limit")) '
            "RETURNING o.was_90, o.was_100, q.announced_90, q.announced_100, "
            'q."limit", q.reserved, q.consumed',
            id=quota_id,
        )
        if row is None:
            return [], Counters(0, 0, 0)
        newly = [90] if row.announced_90 and not row.was_90 else []
        newly += [100] if row.announced_100 and not row.was_100 else []
        return newly, Counters(row.limit, row.reserved, row.consumed)

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
        delta = limit - (previous or 0)
        action = "established" if previous is None else ("increased" if delta >= 0 else "reduced")
        await self._one(
            'INSERT INTO quota_history (quota_id, action, previous_limit, "limit", delta, '
            "reason, reference, proposal_id, actor, recorded_at) VALUES (:quota_id, :action, "
            ":previous, :limit, :delta, :reason, :reference, :proposal_id, :actor, :now) "
            "RETURNING id",
            quota_id=quota_id,
            action=action,
            previous=previous,
            limit=limit,
            delta=delta,
            reason=reason,
            reference=reference,
            proposal_id=proposal_id,
            actor=actor,
            now=now,
        )

    async def history(self, quota_id: UUID, *, after: int | None, limit: int) -> list[HistoryEntry]:
        rows = await self._all(
            'SELECT id, quota_id, action, previous_limit, "limit", delta, reason, reference, '
            "proposal_id, actor, recorded_at FROM quota_history WHERE quota_id = :id "
            "AND id > coalesce(CAST(:after AS bigint), 0) ORDER BY id LIMIT :n",
            id=quota_id,
            after=after,
            n=limit,
        )
        return [
            HistoryEntry(
                r.quota_id,
                r.id,
                r.action,
                r.previous_limit,
                r.limit,
                r.delta,
                r.reason,
                r.reference,
                r.proposal_id,
                r.actor,
                r.recorded_at,
            )
            for r in rows
        ]

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
        return [_reservation(r) for r in rows]

    async def close_ended(self, *, before_year: int, now: datetime) -> int:
        rows = await self._all(
            "UPDATE quotas SET status = 'closed', version = version + 1, updated_at = :now "
            "WHERE status = 'active' AND year_to < :year AND reserved = 0 RETURNING id",
            year=before_year,
            now=now,
        )
        return len(rows)

    # --- territories ----------------------------------------------------------------------

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
        """The new designation, or None when `kato` is already designated for `kind`."""
        row = await self._one(
            "INSERT INTO territories (id, kato, region, kind, effective_from, decision, "
            "proposal_id, created_at) VALUES (:id, :kato, :region, :kind, :effective_from, "
            ":decision, :proposal_id, :now) ON CONFLICT (kato, kind) WHERE status = 'active' "
            "DO NOTHING RETURNING *",
            id=uuid.uuid4(),
            kato=kato,
            region=region,
            kind=kind,
            effective_from=effective_from,
            decision=decision,
            proposal_id=proposal_id,
            now=now,
        )
        return None if row is None else _territory(row)

    async def get_territory(self, territory_id: UUID) -> Territory | None:
        row = await self._one("SELECT * FROM territories WHERE id = :id", id=territory_id)
        return None if row is None else _territory(row)

    async def list_territories(
        self,
        *,
        region: str | None,
        kind: TerritoryKind | None,
        status: TerritoryStatus | None,
        after: UUID | None,
        limit: int,
    ) -> list[Territory]:
        rows = await self._all(
            "SELECT * FROM territories WHERE (CAST(:region AS text) IS NULL OR region = :region) "
            "AND (CAST(:kind AS text) IS NULL OR kind = :kind) AND (CAST(:status AS text) IS NULL "
            "OR status = :status) AND (CAST(:after AS uuid) IS NULL OR id > :after) "
            "ORDER BY id LIMIT :n",
            region=region,
            kind=kind,
            status=status,
            after=after,
            n=limit,
        )
        return [_territory(r) for r in rows]

    async def active_territories(self, kato: str, kinds: Sequence[TerritoryKind]) -> list[UUID]:
        rows = await self._all(
            "SELECT id FROM territories WHERE kato = :kato AND status = 'active' "
            "AND kind = ANY(:kinds) ORDER BY kind",
            kato=kato,
            kinds=[str(k) for k in kinds],
        )
        return [r.id for r in rows]

    async def exclude_territory(
        self, territory_id: UUID, *, effective_from: date, decision: str, now: datetime
    ) -> Territory | None:
        row = await self._one(
            "UPDATE territories SET status = 'excluded', excluded_from = :effective_from, "
            "exclusion_decision = :decision WHERE id = :id AND status = 'active' RETURNING *",
            id=territory_id,
            effective_from=effective_from,
            decision=decision,
        )
        return None if row is None else _territory(row)

    async def designated(
        self, *, kind: TerritoryKind, region: str, target: str, on: date | None
    ) -> bool:
        """Whether `target` (a region or a district of `region`) is designated for `kind`:
        in effect on `on`, or (`on` None) at any time, now or to come."""
        row = await self._one(
            "SELECT 1 FROM territories WHERE kind = :kind AND region = :region "
            "AND (kato = :target OR kato = :region OR :target = :region) "
            "AND (CAST(:on AS date) IS NULL OR (effective_from <= :on AND "
            "(excluded_from IS NULL OR excluded_from > :on))) "
            "AND (status = 'active' OR CAST(:on AS date) IS NOT NULL) LIMIT 1",
            kind=kind,
            region=region,
            target=target,
            on=on,
        )
        return row is not None

    # --- the reservation ledger -----------------------------------------------------------

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
        return _reservation(row)

    async def get_reservation(self, application_id: UUID) -> Reservation | None:
        row = await self._one(
            "SELECT * FROM reservations WHERE application_id = :id", id=application_id
        )
        return None if row is None else _reservation(row)

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
        return None if row is None else _reservation(row)

    async def ledger(self, quota_id: UUID, *, after: UUID | None, limit: int) -> list[Reservation]:
        rows = await self._all(
            "SELECT * FROM reservations WHERE quota_id = :id AND "
            "(CAST(:after AS uuid) IS NULL OR application_id > :after) "
            "ORDER BY application_id LIMIT :n",
            id=quota_id,
            after=after,
            n=limit,
        )
        return [_reservation(r) for r in rows]

    # --- approved proposals ---------------------------------------------------------------

    async def claim_proposal(self, proposal_id: UUID, *, now: datetime) -> bool:
        """False when this proposal's effect was already applied or refused."""
        row = await self._one(
            "INSERT INTO applied_proposals (proposal_id, outcome, applied_at) "
            "VALUES (:id, 'applied', :now) ON CONFLICT DO NOTHING RETURNING proposal_id",
            id=proposal_id,
            now=now,
        )
        return row is not None

    async def mark_proposal_refused(self, proposal_id: UUID) -> None:
        await self._one(
            "UPDATE applied_proposals SET outcome = 'refused' WHERE proposal_id = :id "
            "RETURNING proposal_id",
            id=proposal_id,
        )


@lru_cache(maxsize=256)
def _text(sql: str) -> TextClause:
    """The statement parsed once (its bind parameters found once) per distinct SQL."""
    return text(sql)


def _spec_params(spec: QuotaSpec) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "region": spec.region,
        "year_from": spec.period.year_from,
        "year_to": spec.period.year_to,
        "category": spec.category,
    }


def _quota(r: Row[Any]) -> Quota:
    return Quota(
        id=r.id,
        kind=Kind(r.kind),
        region=r.region,
        period=Period(r.year_from, r.year_to),
        category=Category(r.category) if r.category else None,
        limit=r.limit,
        reserved=r.reserved,
        consumed=r.consumed,
        status=QuotaStatus(r.status),
        version=r.version,
        created_at=r.created_at,
    )


def _territory(r: Row[Any]) -> Territory:
    return Territory(
        id=r.id,
        kato=r.kato,
        region=r.region,
        kind=TerritoryKind(r.kind),
        effective_from=r.effective_from,
        decision=r.decision,
        status=TerritoryStatus(r.status),
        excluded_from=r.excluded_from,
        exclusion_decision=r.exclusion_decision,
        created_at=r.created_at,
    )


def _reservation(r: Row[Any]) -> Reservation:
    return Reservation(
        application_id=r.application_id,
        quota_id=r.quota_id,
        kind=Kind(r.kind),
        region=r.region,
        year=r.year,
        category=Category(r.category) if r.category else None,
        persons=r.persons,
        status=ReservationStatus(r.status),
        outcome=Outcome(r.outcome or "reserved"),
        denial_reason=DenialReason(r.denial_reason) if r.denial_reason else None,
        remaining_at_denial=r.remaining_at_denial,
        release_reason=ReleaseReason(r.release_reason) if r.release_reason else None,
        requested_at=r.requested_at,
        updated_at=r.updated_at,
    )
