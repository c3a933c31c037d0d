"""The `idempotency_keys` table: claims, stored responses, and the verdict on a repeat.

Each of claim, complete and release is one statement, or two, each autocommitted on the
driver (`database.owned.autocommitted`: a round trip each, where a session's BEGIN, statement
and COMMIT were three, twice per keyed request); the two statements that run inside the
held transaction of an effect (`_EFFECT`, `_COMPLETE_HELD`) are kept here with the rest of
the SQL, all in the driver's `$n` style. A claim's two statements need no transaction
between them: under READ COMMITTED each reads its own snapshot either way, and a claim
released between them is tried again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from koshiqon.common.database.owned import autocommitted

KEY_TTL = timedelta(hours=24)
IN_FLIGHT_LEASE = timedelta(minutes=5)
NOT_STORED = frozenset({401, 403, 408, 429})

_CLAIM = (
    "INSERT INTO idempotency_keys AS k (key, principal, route, request_hash) "
    "VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (key, principal) DO UPDATE SET route = EXCLUDED.route, "
    "request_hash = EXCLUDED.request_hash, status_code = NULL, response_body = NULL, "
    "response_headers = NULL, effect_committed = false, created_at = now() "
    "WHERE k.created_at < now() - make_interval(secs => $5::float8) "
    "OR (k.status_code IS NULL AND NOT k.effect_committed "
    "AND k.created_at < now() - make_interval(secs => $6::float8) "
    "AND k.route = EXCLUDED.route AND k.request_hash = EXCLUDED.request_hash) "
    "RETURNING k.created_at"
)
_EXISTING = (
    "SELECT route, request_hash, status_code, response_body, response_headers, "
    "effect_committed FROM idempotency_keys WHERE key = $1 AND principal = $2"
)
_COMPLETE = (
    "UPDATE idempotency_keys SET status_code = $4, response_body = $5, "
    "response_headers = $6::jsonb "
    "WHERE key = $1 AND principal = $2 AND created_at = $3 AND status_code IS NULL"
)
_RELEASE = (
    "DELETE FROM idempotency_keys WHERE key = $1 AND principal = $2 "
    "AND created_at = $3 AND status_code IS NULL AND NOT effect_committed"
)
_EFFECT = (
    "UPDATE idempotency_keys SET effect_committed = true "
    "WHERE key = $1 AND principal = $2 AND created_at = $3 AND status_code IS NULL"
)
# the response, in the held transaction of its effect
_COMPLETE_HELD = (
    "UPDATE idempotency_keys SET effect_committed = true, status_code = $4, "
    "response_body = $5, response_headers = $6::jsonb "
    "WHERE key = $1 AND principal = $2 AND created_at = $3 AND status_code IS NULL"
)
_PURGE = text(
    "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys "
    "WHERE created_at < now() - make_interval(secs => :age) LIMIT :batch))"
)
PURGE_BATCH = 5000


@dataclass(frozen=True)
class KeyedRequest:
    key: str
    principal: str
    route: str
    request_hash: str


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]]


@dataclass(frozen=True)
class Claimed:
    at: datetime


class Verdict(enum.Enum):
    """Why a key that is already claimed cannot run the request again."""

    IN_FLIGHT = "in-flight"
    MISMATCH = "mismatch"
    CARRIED_OUT = "response-lost"  # its effect committed, its response was never stored


Outcome = Claimed | StoredResponse | Verdict


class IdempotencyStore:
    """The `idempotency_keys` table: claim, complete, release, each on its own, on the
    engine of `sessions` (see the module doc)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: timedelta = KEY_TTL,
        lease: timedelta = IN_FLIGHT_LEASE,
    ) -> None:
        engine = sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the idempotency store needs sessions bound to an AsyncEngine")
        self._engine = engine
        self._ttl = ttl.total_seconds()
        self._lease = lease.total_seconds()

    async def claim(self, request: KeyedRequest) -> Outcome:
        """`Claimed` (run it), a `StoredResponse` (replay it) or a `Verdict` (refuse it)."""
        key, principal = request.key, request.principal
        claim = (key, principal, request.route, request.request_hash, self._ttl, self._lease)
        for _ in range(3):  # a claim released between our two statements: try again
            claimed = await autocommitted(self._engine, _CLAIM, *claim)
            if claimed:
                return Claimed(claimed[0]["created_at"])
            rows = await autocommitted(self._engine, _EXISTING, key, principal)
            if rows:
                return _judge(request, rows[0])
        return Verdict.IN_FLIGHT

    async def complete(
        self, request: KeyedRequest, claim: Claimed, response: StoredResponse
    ) -> None:
        headers = orjson.dumps([list(pair) for pair in response.headers]).decode()
        await autocommitted(
            self._engine, _COMPLETE, request.key, request.principal, claim.at,
            response.status, response.body, headers,
        )  # fmt: skip

    async def release(self, request: KeyedRequest, claim: Claimed) -> None:
        await autocommitted(self._engine, _RELEASE, request.key, request.principal, claim.at)


def _judge(request: KeyedRequest, row: Any) -> Outcome:
    if row["route"] != request.route or row["request_hash"] != request.request_hash:
        return Verdict.MISMATCH
    if row["status_code"] is None:
        return Verdict.CARRIED_OUT if row["effect_committed"] else Verdict.IN_FLIGHT
    headers = [(str(name), str(value)) for name, value in row["response_headers"] or []]
    return StoredResponse(int(row["status_code"]), bytes(row["response_body"] or b""), headers)


def storable(status: int) -> bool:
    """Whether a response with `status` is kept for replay: a 5xx is not (a retry runs the
    request again), nor a 401, 403, 408 or 429, which describe the credentials or the
    server's state of the moment rather than the request."""
    return status < 500 and status not in NOT_STORED


async def purge_expired_keys(
    session: AsyncSession, *, older_than: timedelta = KEY_TTL, batch: int = PURGE_BATCH
) -> int:
    """Delete up to `batch` keys older than `older_than` (by the created_at index) in the
    caller's transaction; how many went. A caller with a backlog calls again until fewer
    than `batch` go, each batch a short transaction of its own."""
    result = await session.execute(_PURGE, {"age": older_than.total_seconds(), "batch": batch})
    return int(cast(CursorResult[Any], result).rowcount)
