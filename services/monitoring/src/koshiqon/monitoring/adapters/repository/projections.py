"""The projections of the event streams: each change an upsert that adds to its counters in
SQL (never read, added in Python and written back), so concurrent consumers and any order
of arrival give the same sums. A quota's limit is the last one by its event's time, a
proposal's state the stage of its latest event (a tie: the later step, `STAGE_RANK`).
`apply_many` writes a chunk of events' changes with one `executemany` per statement, leaving
the tables as `apply` for each in turn would.

The tables are `p_*`, or the `rb_*` copies a rebuild fills (`prefix`). The statements run
on the transaction's asyncpg connection (`Transaction.driver()`), not through SQLAlchemy:
bench/monitoring_projection.py measures the consumer at about twice the events per second
that way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from koshiqon.common.unit_of_work import Transaction
from koshiqon.monitoring.adapters.repository.sql import (
    PROJECTION_GATE,
    SqlRepository,
    checked_prefix,
    execute,
    execute_many,
    fetch,
)
from koshiqon.monitoring.adapters.tables import LIVE
from koshiqon.monitoring.domain.model import Changes

KANDAS = (
    "coalesce(CAST(:kandas AS text), (SELECT CASE WHEN p.kandas THEN 'kandas' ELSE 'other' END "
    "FROM {p}persons p WHERE p.person_id = :person_id), 'unknown')"
)


def _kandas(value: bool | None) -> str | None:
    return None if value is None else ("kandas" if value else "other")


class SqlProjectionRepository(SqlRepository):
    def __init__(self, transaction: Transaction, *, prefix: str = LIVE) -> None:
        super().__init__(transaction)
        p = checked_prefix(prefix)
        self.prefix = p
        kandas = KANDAS.format(p=p)
        self._person = (
            f"INSERT INTO {p}persons (person_id, legal_status, kandas) "
            "VALUES (:person_id, :legal_status, :kandas) ON CONFLICT (person_id) DO UPDATE "
            "SET legal_status = excluded.legal_status, kandas = excluded.kandas"
        )
        self._flow = (
            f"INSERT INTO {p}flows AS f (region, month, scope, direction, district, "
            "legal_status, kandas, counterpart, persons, last_event_at) VALUES (:region, "
            f":month, :scope, :direction, :district, :legal_status, {kandas}, :counterpart, 1, "
            ":at) ON CONFLICT (region, month, scope, direction, district, legal_status, kandas, "
            "counterpart) DO UPDATE SET persons = f.persons + 1, "
            "last_event_at = greatest(f.last_event_at, excluded.last_event_at)"
        )
        self._flow_resolved = self._flow.replace(kandas, ":kandas")
        self._registration = (
            f"INSERT INTO {p}registrations AS r (region, month, district, kind, purpose, "
            "legal_status, kandas, started, ended, last_event_at) VALUES (:region, :month, "
            f":district, :kind, :purpose, :legal_status, {kandas}, :started, :ended, :at) "
            "ON CONFLICT (region, month, district, kind, purpose, legal_status, kandas) DO UPDATE "
            "SET started = r.started + excluded.started, ended = r.ended + excluded.ended, "
            "last_event_at = greatest(r.last_event_at, excluded.last_event_at)"
        )
        self._registration_resolved = self._registration.replace(kandas, ":kandas")
        self._kandas_of = f"SELECT person_id, kandas FROM {p}persons WHERE person_id = ANY(:ids)"
        self._resettlement = {
            column: (
                f"INSERT INTO {p}resettlement AS r (region, month, category, {column}, "
                "applications, last_event_at) VALUES (:region, :month, :category, :persons, "
                ":applications, :at) ON CONFLICT (region, month, category) DO UPDATE SET "
                f"{column} = r.{column} + excluded.{column}, "
                "applications = r.applications + excluded.applications, "
                "last_event_at = greatest(r.last_event_at, excluded.last_event_at)"
            )
            for column in ("requested", "approved", "rejected", "completed", "withdrawn")
        }
        self._quota_use = (
            f"INSERT INTO {p}quotas AS q (quota_id, region, kind, category, year_from, year_to, "
            "reserved, consumed, last_event_at) VALUES (:quota_id, :region, :kind, '', :year, "
            ":year, :reserved, :consumed, :at) ON CONFLICT (quota_id) DO UPDATE SET "
            "reserved = q.reserved + excluded.reserved, consumed = q.consumed + excluded.consumed, "
            "last_event_at = greatest(q.last_event_at, excluded.last_event_at)"
        )
        self._quota_limit = (
            f"INSERT INTO {p}quotas AS q (quota_id, region, kind, category, year_from, year_to, "
            '"limit", limit_at, last_event_at) VALUES (:quota_id, :region, :kind, :category, '
            ":year_from, :year_to, :limit, :at, :at) ON CONFLICT (quota_id) DO UPDATE SET "
            "category = excluded.category, year_from = excluded.year_from, "
            'year_to = excluded.year_to, "limit" = CASE WHEN q.limit_at IS NULL OR '
            'excluded.limit_at >= q.limit_at THEN excluded."limit" ELSE q."limit" END, '
            "limit_at = greatest(q.limit_at, excluded.limit_at), "
            "last_event_at = greatest(q.last_event_at, excluded.last_event_at)"
        )
        self._proposal = (
            f"INSERT INTO {p}proposals AS r (region, month, type, stage, proposals, "
            "last_event_at) VALUES (:region, :month, :type, :stage, 1, :at) ON CONFLICT "
            "(region, month, type, stage) DO UPDATE SET proposals = r.proposals + 1, "
            "last_event_at = greatest(r.last_event_at, excluded.last_event_at)"
        )
        later = "(excluded.stage_at, excluded.stage_rank) > (s.stage_at, s.stage_rank)"
        self._proposal_state = (
            f"INSERT INTO {p}proposal_states AS s (proposal_id, region, type, stage, stage_rank, "
            "stage_at, first_at, last_event_at) VALUES (:proposal_id, :region, :type, :stage, "
            ":rank, :at, :at, :at) ON CONFLICT (proposal_id) DO UPDATE SET "
            f"stage = CASE WHEN {later} THEN excluded.stage ELSE s.stage END, "
            f"type = CASE WHEN {later} THEN excluded.type ELSE s.type END, "
            f"stage_rank = CASE WHEN {later} THEN excluded.stage_rank ELSE s.stage_rank END, "
            "stage_at = greatest(s.stage_at, excluded.stage_at), "
            "first_at = least(s.first_at, excluded.first_at), "
            "last_event_at = greatest(s.last_event_at, excluded.last_event_at)"
        )

    async def enter_gate(self) -> None:
        """Held shared until the transaction ends: a rebuild's swap (exclusive) waits for the
        projecting transactions in flight and holds new ones back until it has committed."""
        await execute(
            await self.transaction.driver(), "SELECT pg_advisory_xact_lock_shared(:key)",
            key=PROJECTION_GATE,
        )  # fmt: skip

    async def apply(self, changes: Changes) -> None:
        """On the asyncpg connection of the transaction (see sql.execute): one statement per
        change, the consumer's hot path."""
        c = await self.transaction.driver()
        for person in changes.persons:
            await execute(
                c, self._person, person_id=person.person_id,
                legal_status=person.legal_status, kandas=person.kandas,
            )  # fmt: skip
        for f in changes.flows:
            await execute(
                c, self._flow, region=f.region, month=f.month, scope=f.scope,
                direction=f.direction, district=f.district, legal_status=f.legal_status,
                kandas=_kandas(f.kandas), person_id=f.person_id, counterpart=f.counterpart,
                at=f.at,
            )  # fmt: skip
        for r in changes.registrations:
            await execute(
                c, self._registration, region=r.region, month=r.month, district=r.district,
                kind=r.kind, purpose=r.purpose, legal_status=r.legal_status,
                kandas=_kandas(r.kandas), person_id=r.person_id, started=r.started,
                ended=r.ended, at=r.at,
            )  # fmt: skip
        for s in changes.resettlement:
            await execute(
                c, self._resettlement[s.column], region=s.region, month=s.month,
                category=s.category, persons=s.persons,
                applications=1 if s.column == "requested" else 0, at=s.at,
            )  # fmt: skip
        for u in changes.quota_use:
            await execute(
                c, self._quota_use, quota_id=u.quota_id, region=u.region, kind=u.kind,
                year=u.year, reserved=u.reserved, consumed=u.consumed, at=u.at,
            )  # fmt: skip
        for q in changes.quota_limits:
            await execute(
                c, self._quota_limit, quota_id=q.quota_id, region=q.region, kind=q.kind,
                category=q.category, year_from=q.year_from, year_to=q.year_to, limit=q.limit,
                at=q.at,
            )  # fmt: skip
        for stage in changes.proposals:
            await execute(
                c, self._proposal, region=stage.region, month=stage.month, type=stage.type,
                stage=stage.stage, at=stage.at,
            )  # fmt: skip
            await execute(
                c, self._proposal_state, proposal_id=stage.proposal_id, region=stage.region,
                type=stage.type, stage=stage.stage, rank=stage.rank, at=stage.at,
            )  # fmt: skip

    async def apply_many(self, chunk: Sequence[Changes]) -> None:
        """The changes of a chunk's events, in order, as `apply` for each in turn would leave
        the tables, in one `executemany` per run of one statement. The tables' upserts are
        independent of one another but for the kandas status a flow or registration that
        does not tell its own reads from `persons`: it is resolved here as that read would
        have found it (the rows before the chunk, read once, then the chunk's own persons in
        order), so the statements of each table keep their order and no more."""
        c = await self.transaction.driver()
        open_ids = {f.person_id for ch in chunk for f in ch.flows if f.kandas is None} | {
            r.person_id for ch in chunk for r in ch.registrations if r.kandas is None
        }
        known: dict[UUID, bool] = {}
        if open_ids:
            ids = list(open_ids)
            for r in await fetch(c, self._kandas_of, ids=ids):
                known[r["person_id"]] = bool(r["kandas"])

        def kandas(value: bool | None, person_id: UUID) -> str:
            if value is None:
                seen = known.get(person_id)
                return "unknown" if seen is None else ("kandas" if seen else "other")
            return "kandas" if value else "other"

        runs: dict[str, list[tuple[str, dict[str, Any]]]] = {}

        def add(table: str, statement: str, **row: Any) -> None:
            runs.setdefault(table, []).append((statement, row))

        for changes in chunk:
            for person in changes.persons:
                add("persons", self._person, person_id=person.person_id,
                    legal_status=person.legal_status, kandas=person.kandas)  # fmt: skip
                known[person.person_id] = bool(person.kandas)
            for f in changes.flows:
                add("flows", self._flow_resolved, region=f.region, month=f.month,
                    scope=f.scope, direction=f.direction, district=f.district,
                    legal_status=f.legal_status, kandas=kandas(f.kandas, f.person_id),
                    counterpart=f.counterpart, at=f.at)  # fmt: skip
            for r in changes.registrations:
                add("registrations", self._registration_resolved, region=r.region,
                    month=r.month, district=r.district, kind=r.kind, purpose=r.purpose,
                    legal_status=r.legal_status, kandas=kandas(r.kandas, r.person_id),
                    started=r.started, ended=r.ended, at=r.at)  # fmt: skip
            for st in changes.resettlement:
                add("resettlement", self._resettlement[st.column], region=st.region,
                    month=st.month, category=st.category, persons=st.persons,
                    applications=1 if st.column == "requested" else 0, at=st.at)  # fmt: skip
            for u in changes.quota_use:
                add("quotas", self._quota_use, quota_id=u.quota_id, region=u.region,
                    kind=u.kind, year=u.year, reserved=u.reserved, consumed=u.consumed,
                    at=u.at)  # fmt: skip
            for q in changes.quota_limits:
                add("quotas", self._quota_limit, quota_id=q.quota_id, region=q.region,
                    kind=q.kind, category=q.category, year_from=q.year_from,
                    year_to=q.year_to, limit=q.limit, at=q.at)  # fmt: skip
            for stage in changes.proposals:
                add("proposals", self._proposal, region=stage.region, month=stage.month,
                    type=stage.type, stage=stage.stage, at=stage.at)  # fmt: skip
                add("proposal_states", self._proposal_state, proposal_id=stage.proposal_id,
                    region=stage.region, type=stage.type, stage=stage.stage, rank=stage.rank,
                    at=stage.at)  # fmt: skip
        for statements in runs.values():
            start = 0
            while start < len(statements):
                statement = statements[start][0]
                end = start
                while end < len(statements) and statements[end][0] == statement:
                    end += 1
                await execute_many(c, statement, [row for _, row in statements[start:end]])
                start = end
