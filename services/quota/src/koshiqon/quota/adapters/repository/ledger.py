"""The reservation ledger: one row per resettlement application, and the reservation that
moves persons onto a quota's counters, settles the entry and writes its events in the same
statement (`reserve`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from koshiqon.common import outbox
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.unit_of_work import Envelopes, Transaction
from koshiqon.quota.adapters.repository.sql import (
    SqlRepository,
    attributes,
    reservation_of,
)
from koshiqon.quota.domain.announcements import (
    EXHAUSTED_FILLED,
    RESERVED_FILLED,
    THRESHOLD_FILLED,
    Outcomes,
)
from koshiqon.quota.domain.model import (
    Category,
    DenialReason,
    Kind,
    Outcome,
    ReleaseReason,
    Reservation,
    ReservationStatus,
)


class SqlLedgerRepository(SqlRepository):
    def __init__(self, transaction: Transaction, *, envelope: Envelopes) -> None:
        super().__init__(transaction)
        self._envelope = envelope  # the unit of work's, for the events a statement writes

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
        """The application's ledger entry, reserved on the quota or denied as exhausted, with
        the quota's counters, threshold marks and the outcome's events in the outbox, in one
        statement (`Transaction.last`: autocommitted when it is the unit of work's only
        write, so the quota row's lock lasts that statement's round trip); None, and nothing
        written, when the application has an entry already.

        The quota row is locked first (FOR UPDATE), which gives the counters and the marks as
        they are before this reservation on any PostgreSQL version: a threshold is reached
        by this reservation when its mark was unset there and is set after. The rule
        (reserved + consumed + n <= limit) is backed by the CHECK constraint."""
        rows = await self.transaction.last(
            _RESERVE,
            application_id, quota_id, kind.value, region, year, _text(category), persons, now,
            *_outbox_columns(self._outcome_events(outcomes)),
        )  # fmt: skip
        return reservation_of(attributes(rows[0])) if rows else None

    def _outcome_events(self, outcomes: Outcomes) -> list[tuple[str, Envelope]]:
        """(what it announces, its envelope with the statement's figures unset), in the order
        the events are published: the outcome, then the thresholds."""
        reserved, exhausted = outcomes.reserved, outcomes.exhausted
        events = [
            ("reserved", self._envelope(reserved, subject=reserved.application_id,
                                        unset=RESERVED_FILLED)),
            ("denied", self._envelope(exhausted, subject=exhausted.application_id,
                                      unset=EXHAUSTED_FILLED)),
        ]  # fmt: skip
        events += [
            (t.threshold.value, self._envelope(t, subject=t.quota_id, unset=THRESHOLD_FILLED))
            for t in outcomes.thresholds
        ]
        return events

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
        """The application's ledger entry, denied (no quota, or not designated), and its
        `denied` event in the outbox, in one statement (`Transaction.last`); None, and
        nothing written, when the application has an entry already."""
        event = self._envelope(denied, subject=application_id)
        rows = await self.transaction.last(
            _DENY,
            application_id, quota_id, kind.value, region, year, _text(category), persons,
            reason.value, now, *_outbox_columns([("denied", event)]),
        )  # fmt: skip
        return reservation_of(attributes(rows[0])) if rows else None

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
        """A read: before anything else in the unit of work, it runs without a BEGIN."""
        rows = await self.transaction.read(
            "SELECT * FROM reservations WHERE application_id = $1", application_id
        )
        return reservation_of(attributes(rows[0])) if rows else None

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


# The outbox rows a statement writes: its candidates, as `outbox.add` would write them, each
# with what it announces ('reserved', 'denied', '90', '100'); their value is the envelope's
# JSON text with the figures only the statement knows unset ("remaining":null ...), which
# it fills in. A key's `"name":null` is matched quoted, so it cannot be any string's content.
def _candidates(first: int) -> str:
    """SQL: the candidate rows `t`, from the seven arrays of `_outbox_columns` at parameters
    `$first` on."""
    n = [f"${first + i}" for i in range(7)]
    return (
        f"unnest({n[0]}::uuid[], {n[1]}::text[], {n[2]}::text[], {n[3]}::text[], "
        f"{n[4]}::text[], {n[5]}::jsonb[], {n[6]}::text[]) WITH ORDINALITY "
        "AS t(event_id, topic, key, event_type, value, headers, announces, ord)"
    )


def _filled(value: str, **figures: str) -> str:
    """SQL: the template `value` with each `"name":null` replaced by the figure (SQL, NULL
    leaving null)."""
    for name, figure in figures.items():
        value = (
            f"replace({value}, '\"{name}\":null', '\"{name}\":' || "
            f"coalesce(({figure})::text, 'null'))"
        )
    return value


_RESERVE = (
    'WITH quota AS (SELECT id, "limit", reserved, consumed, announced_90, announced_100, '
    "status = 'active' AND reserved + consumed + $7::int <= \"limit\" AS fits "
    "FROM quotas WHERE id = $2::uuid FOR UPDATE), "
    "entry AS (INSERT INTO reservations (application_id, quota_id, kind, region, year, "
    "category, persons, status, outcome, denial_reason, remaining_at_denial, "
    "remaining_at_reservation, requested_at, updated_at) "
    "SELECT $1::uuid, q.id, $3::text, $4::text, $5::int, $6::text, $7::int, d.outcome, "
    "d.outcome, CASE WHEN NOT q.fits THEN 'exhausted' END, CASE WHEN NOT q.fits THEN "
    'greatest(q."limit" - q.reserved - q.consumed, 0) END, CASE WHEN q.fits THEN '
    'q."limit" - q.reserved - q.consumed - $7::int END, $8::timestamptz, $8::timestamptz '
    "FROM quota q CROSS JOIN LATERAL (SELECT CASE WHEN q.fits THEN 'reserved' "
    "ELSE 'denied' END AS outcome) d "
    "ON CONFLICT (application_id) DO NOTHING RETURNING *), "
    "counted AS (UPDATE quotas q SET reserved = q.reserved + e.persons, "
    "version = q.version + 1, updated_at = $8::timestamptz, "
    "announced_90 = q.announced_90 OR "
    '(q.reserved + q.consumed + e.persons) * 10 >= q."limit" * 9, '
    'announced_100 = q.announced_100 OR q.reserved + q.consumed + e.persons >= q."limit" '
    "FROM entry e, quota o WHERE q.id = e.quota_id AND o.id = q.id AND e.status = 'reserved' "
    'RETURNING q."limit", q.reserved, q.consumed, '
    "q.announced_90 AND NOT o.announced_90 AS reached_90, "
    "q.announced_100 AND NOT o.announced_100 AS reached_100), "
    "events AS (INSERT INTO outbox (event_id, topic, key, event_type, value, headers) "
    "SELECT t.event_id, t.topic, t.key, t.event_type, convert_to("
    + _filled(
        "t.value",
        remaining="coalesce(e.remaining_at_reservation, e.remaining_at_denial)",
        limit='c."limit"',
        reserved="c.reserved",
        consumed="c.consumed",
    )
    + ", 'UTF8'), t.headers "
    f"FROM {_candidates(9)} CROSS JOIN entry e LEFT JOIN counted c ON true "
    "WHERE t.announces = e.outcome OR (t.announces = '90' AND c.reached_90) "
    "OR (t.announces = '100' AND c.reached_100) ORDER BY t.ord RETURNING 1) "
    "SELECT e.* FROM entry e"
)

_DENY = (
    "WITH entry AS (INSERT INTO reservations (application_id, quota_id, kind, region, year, "
    "category, persons, status, outcome, denial_reason, requested_at, updated_at) "
    "VALUES ($1::uuid, $2::uuid, $3::text, $4::text, $5::int, $6::text, $7::int, 'denied', "
    "'denied', $8::text, $9::timestamptz, $9::timestamptz) "
    "ON CONFLICT (application_id) DO NOTHING RETURNING *), "
    "events AS (INSERT INTO outbox (event_id, topic, key, event_type, value, headers) "
    "SELECT t.event_id, t.topic, t.key, t.event_type, convert_to(t.value, 'UTF8'), t.headers "
    f"FROM {_candidates(10)} "
    "WHERE EXISTS (SELECT FROM entry) ORDER BY t.ord RETURNING 1) "
    "SELECT e.* FROM entry e"
)


def _outbox_columns(events: Sequence[tuple[str, Envelope]]) -> tuple[list[Any], ...]:
    ids, topics, keys, types, values, headers = outbox.columns([e for _, e in events])
    texts = [value.decode() for value in values]
    return ids, topics, keys, types, texts, headers, [announces for announces, _ in events]


def _text(category: Category | None) -> str | None:
    return None if category is None else category.value
