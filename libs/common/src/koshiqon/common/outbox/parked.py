"""The outbox rows the relay parked (refused for good by the broker or the producer, e.g.
over the size limit, `max_attempts` times): listed by a function and by
`koshiqon outbox parked --service <svc>`. A parked row stays until someone acts on it:
clear its `parked_at` (and `attempts`) to have it tried again, or delete it."""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from koshiqon.common.database.roles import asyncpg_dsn
from koshiqon.common.settings import admin_dsn


@dataclass(frozen=True)
class ParkedRow:
    id: int
    event_id: uuid.UUID
    topic: str
    key: str
    event_type: str
    attempts: int
    last_error: str | None
    created_at: datetime
    parked_at: datetime


async def parked_rows(dsn: str, *, schema: str, limit: int = 1000) -> list[ParkedRow]:
    """The rows the relay gave up on, oldest first (on a connection of its own)."""
    conn = await asyncpg.connect(asyncpg_dsn(dsn), server_settings={"search_path": schema})
    try:
        rows = await conn.fetch(
            "SELECT id, event_id, topic, key, event_type, attempts, last_error, created_at,"
            " parked_at FROM outbox WHERE parked_at IS NOT NULL ORDER BY id LIMIT $1",
            limit,
        )
    finally:
        await conn.close()
    return [ParkedRow(**dict(row)) for row in rows]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`koshiqon outbox parked --service <svc>`."""
    parser = subparsers.add_parser("outbox", help="a service's transactional outbox")
    actions = parser.add_subparsers(dest="action", required=True)
    parked = actions.add_parser("parked", help="list the rows the relay parked")
    parked.add_argument("--service", required=True, help="the service's schema, e.g. quota")
    parked.add_argument(
        "--database-url",
        default=None,
        help="default: $<SERVICE>_DATABASE_URL, else $DATABASE_URL or the local server",
    )
    parked.add_argument("--limit", type=int, default=1000)
    parked.set_defaults(func=_print_parked)


def _print_parked(args: argparse.Namespace) -> int:
    dsn = args.database_url or os.environ.get(f"{args.service.upper()}_DATABASE_URL") or admin_dsn()
    rows = asyncio.run(parked_rows(dsn, schema=args.service, limit=args.limit))
    for row in rows:
        print(
            f"{row.id}\t{row.parked_at.isoformat()}\t{row.attempts}\t{row.topic}\t{row.key}"
            f"\t{row.event_type}\t{row.event_id}\t{row.last_error or ''}"
        )
    print(f"{len(rows)} parked row(s) in {args.service}'s outbox")
    return 0
