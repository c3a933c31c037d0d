"""The transactional outbox: events are rows written in the same transaction as the state
change that caused them, and one relay per service publishes them to Kafka.

Ordering: rows are claimed in id order, one aggregate's writes serialize on that
aggregate's row lock, and each drain reads one snapshot (a late commit with a lower id waits
for the next drain together with everything committed after it), so one key's events reach
Kafka in the order they were committed.
Delivery is at least once (a crash between the broker's acknowledgement and marking the
row published republishes it); consumers deduplicate by event id. A row the broker refuses
for good (over its size limit, say) is parked after `RelayConfig.max_attempts` instead of
holding up the rows behind it (`parked.py`).
Leadership is a lease on the advisory lock's session, bounded by server-side timeouts: a
frozen or vanished leader is replaced within about `RelayConfig.lease` (docs/architecture.md,
4.1). The relay finds new rows by polling, not NOTIFY (see `_INSERT` below).

`add` is here; the relay is in `relay.py`, its leader's lease in `lease.py`, the lag in
`lag.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.database.driver import driver_connection
from koshiqon.common.events.contracts import REGISTRY
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.outbox.lag import Lag, lag, outbox_lag
from koshiqon.common.outbox.lease import LeadershipLost
from koshiqon.common.outbox.parked import ParkedRow, add_parser, parked_rows
from koshiqon.common.outbox.relay import (
    OutboxRelay,
    ProducerFactory,
    ProducerStalled,
    RelayConfig,
)

__all__ = [
    "Lag",
    "LeadershipLost",
    "OutboxRelay",
    "ParkedRow",
    "ProducerFactory",
    "ProducerStalled",
    "RelayConfig",
    "add",
    "add_parser",
    "columns",
    "lag",
    "outbox_lag",
    "parked_rows",
]

# The rows alone, no NOTIFY: the relay polls the outbox's partial index
# (`RelayConfig.poll_interval`), because PostgreSQL serialises the commits of every
# transaction that notified (one lock for the whole cluster; bench/outbox_notify.py).
_INSERT = (
    "INSERT INTO outbox (event_id, topic, key, event_type, value, headers)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[],"
    "  $6::jsonb[])"
)


async def add(target: AsyncSession | AsyncConnection | DriverConnection, *events: Envelope) -> None:
    """Write events into the outbox inside the caller's transaction: a SQLAlchemy session's or
    Core connection's, or an asyncpg connection's. Nothing is published unless that
    transaction commits."""
    if not events:
        return
    conn = await driver_connection(target)
    await conn.execute(_INSERT, *columns(events))


def columns(events: Sequence[Envelope]) -> tuple[list[Any], ...]:
    """The outbox columns of `events` as `add` writes them (event_id, topic, key, event_type,
    value, headers: six lists), for a statement that writes its outbox rows itself, in the
    same transaction as the change they announce."""
    return (
        [event.id for event in events],
        [REGISTRY.get(event.type).topic for event in events],
        [event.subject for event in events],
        [event.type for event in events],
        [event.to_bytes() for event in events],
        [orjson.dumps(_headers(event)).decode() for event in events],
    )


def _headers(event: Envelope) -> dict[str, str]:
    """CloudEvents attributes a consumer can route on without parsing the value."""
    return {
        "ce_id": str(event.id),
        "ce_type": event.type,
        "ce_source": event.source,
        "ce_specversion": event.specversion,
        "content-type": "application/cloudevents+json",
        "correlationid": event.correlationid,
        "traceparent": event.traceparent,
    }
