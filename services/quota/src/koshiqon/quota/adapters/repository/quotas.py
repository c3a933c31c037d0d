"""Quotas: their series, limits, counters, thresholds and history. Counters change only by
conditional UPDATEs whose WHERE clause carries the rule, so concurrent requests are serialized
by the quota row's lock and re-checked by PostgreSQL, never read-modify-written."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from uuid import UUID

from koshiqon.quota.adapters.repository.sql import (
    QUOTA_COLUMNS,
    SqlRepository,
    attributes,
    quota_of,
)
from koshiqon.quota.domain.model import (
    Category,
    Counters,
    Kind,
    Period,
    Quota,
    QuotaSpec,
    QuotaStatus,
)


class SqlQuotaRepository(SqlRepository):
    async def lock_series(self, kind: Kind, region: str, category: Category | None) -> None:
        """Serialize establishing quotas of one (kind, region, category) till commit."""
        key = f"quota:{kind}:{region}:{category or ''}"
        await self._one("SELECT pg_advisory_xact_lock(hashtext(:key))", key=key)

    async def overlapping_quota(self, spec: QuotaSpec, *, closed_too: bool = False) -> UUID | None:
        """A quota of the spec's series whose years overlap it: an active one, or with
        `closed_too` a closed one as well (history)."""
        row = await self._one(
            "SELECT id FROM quotas WHERE (status = 'active' OR CAST(:closed_too AS boolean)) "
            "AND kind = :kind AND region = :region AND category IS NOT DISTINCT FROM :category "
            "AND year_from <= :year_to AND year_to >= :year_from LIMIT 1",
            closed_too=closed_too,
            **_spec_params(spec),
        )
        return None if row is None else row.id

    async def add_quota(
        self, spec: QuotaSpec, *, now: datetime, status: QuotaStatus = QuotaStatus.ACTIVE
    ) -> Quota:
        row = await self._one(
            'INSERT INTO quotas (id, kind, region, year_from, year_to, category, "limit", '
            "status, created_at, updated_at) VALUES (:id, :kind, :region, :year_from, "
            f":year_to, :category, :limit, :status, :now, :now) RETURNING {QUOTA_COLUMNS}",
            id=uuid.uuid4(),
            now=now,
            limit=spec.limit,
            status=status,
            **_spec_params(spec),
        )
        assert row is not None
        return quota_of(row)

    async def get_quota(self, quota_id: UUID) -> Quota | None:
        row = await self._one(f"SELECT {QUOTA_COLUMNS} FROM quotas WHERE id = :id", id=quota_id)
        return None if row is None else quota_of(row)

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
        A kind that needs no designation is always designated. A read: before anything else
        in the unit of work, it runs without a BEGIN (the reservation's, `ledger.reserve`)."""
        rows = await self.transaction.read(
            _QUOTA_TO_RESERVE,
            kind.needs_designation, kind.value, region, target,
            None if category is None else category.value, year, today, today.year,
        )  # fmt: skip
        if not rows:
            return None, False
        row = attributes(rows[0])
        return quota_of(row), bool(row.designated)

    async def find_quota_for_period(
        self, *, kind: Kind, region: str, period: Period, category: Category | None
    ) -> Quota | None:
        row = await self._one(
            f"SELECT {QUOTA_COLUMNS} FROM quotas WHERE status = 'active' AND kind = :kind "
            "AND region = :region AND category IS NOT DISTINCT FROM :category "
            "AND year_from = :year_from AND year_to = :year_to",
            kind=kind,
            region=region,
            category=category,
            year_from=period.year_from,
            year_to=period.year_to,
        )
        return None if row is None else quota_of(row)

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

    async def close_ended(self, *, before_year: int, now: datetime) -> int:
        rows = await self._all(
            "UPDATE quotas SET status = 'closed', version = version + 1, updated_at = :now "
            "WHERE status = 'active' AND year_to < :year AND reserved = 0 RETURNING id",
            year=before_year,
            now=now,
        )
        return len(rows)


_QUOTA_TO_RESERVE = (
    f"SELECT {QUOTA_COLUMNS}, (NOT $1::boolean OR EXISTS (SELECT 1 FROM territories t "
    "WHERE t.kind = $2::text AND t.region = $3::text AND (t.kato = $4::text "
    "OR t.kato = $3::text OR $4::text = $3::text) AND t.effective_from <= o.on "
    "AND (t.excluded_from IS NULL OR t.excluded_from > o.on))) AS designated "
    "FROM quotas q CROSS JOIN LATERAL (SELECT greatest($7::date, make_date(q.year_from, 1, 1)) "
    "AS on) o WHERE q.status = 'active' AND q.kind = $2::text AND q.region = $3::text "
    "AND q.category IS NOT DISTINCT FROM $5::text AND $6::int BETWEEN q.year_from AND q.year_to "
    "AND q.year_to >= $8::int"
)


def _spec_params(spec: QuotaSpec) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "region": spec.region,
        "year_from": spec.period.year_from,
        "year_to": spec.period.year_to,
        "category": spec.category,
    }
