"""The `idempotency_keys` table: claims, stored responses, and the verdict on a repeat.

Each of claim, complete and release is a short transaction of its own; the two statements
that run inside the held transaction of an effect (`_EFFECT`, `_COMPLETE_HELD`) are kept
here with the rest of the SQL, in the driver's `$n` style.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

KEY_TTL = timedelta(hours=24)
IN_FLIGHT_LEASE = timedelta(minutes=5)
NOT_STORED = frozenset({401, 403, 408, 429})

_CLAIM = text(
    "INSERT INTO idempotency_keys AS k (key, principal, route, request_hash) "
    "VALUES (:key, :principal, :route, :request_hash) "
    "ON CONFLICT (key, principal) DO UPDATE SET route = EXCLUDED.route, "
    "request_hash = EXCLUDED.request_hash, status_code = NULL, response_body = NULL, "
    "response_headers = NULL, effect_committed = false, created_at = now() "
    "WHERE k.created_at < now() - make_interval(secs => :ttl) "
    "OR (k.status_code IS NULL AND NOT k.effect_committed "
    "AND k.created_at < now() - make_interval(secs => :lease) "
    "AND k.route = EXCLUDED.route AND k.request_hash = EXCLUDED.request_hash) "
    "RETURNING k.created_at"
)
_EXISTING = text(
    "SELECT route, request_hash, status_code, response_body, response_headers, "
    "effect_committed FROM idempotency_keys WHERE key = :key AND principal = :principal"
)
_COMPLETE = text(
    "UPDATE idempotency_keys SET status_code = :status, response_body = :body, "
    "response_headers = CAST(:headers AS jsonb) "
    "WHERE key = :key AND principal = :principal AND created_at = :claimed_at "
    "AND status_code IS NULL"
)
_RELEASE = text(
    "DELETE FROM idempotency_keys WHERE key = :key AND principal = :principal "
    "AND created_at = :claimed_at AND status_code IS NULL AND NOT effect_committed"
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

    def params(self) -> dict[str, str]:
        return {"key": self.key, "principal": self.principal}


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
    """The `idempotency_keys` table: claim, complete, release, each its own transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: timedelta = KEY_TTL,
        lease: timedelta = IN_FLIGHT_LEASE,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl.total_seconds()
        self._lease = lease.total_seconds()

    async def claim(self, request: KeyedRequest) -> Outcome:
        """`Claimed` (run it), a `StoredResponse` (replay it) or a `Verdict` (refuse it)."""
        values: dict[str, object] = {**request.params(), "route": request.route}
        values |= {"request_hash": request.request_hash, "ttl": self._ttl, "lease": self._lease}
        for _ in range(3):  # a claim released between our two statements: try again
            async with self._sessions() as session, session.begin():
                claimed_at = (await session.execute(_CLAIM, values)).scalar_one_or_none()
                if claimed_at is not None:
                    return Claimed(claimed_at)
                row = (await session.execute(_EXISTING, request.params())).one_or_none()
            if row is not None:
                return _judge(request, row._mapping)
        return Verdict.IN_FLIGHT

    async def complete(
        self, request: KeyedRequest, claim: Claimed, response: StoredResponse
    ) -> None:
        headers = orjson.dumps([list(pair) for pair in response.headers]).decode()
        values = {"status": response.status, "body": response.body, "headers": headers}
        async with self._sessions() as session, session.begin():
            await session.execute(_COMPLETE, {**request.params(), **values, "claimed_at": claim.at})

    async def release(self, request: KeyedRequest, claim: Claimed) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(_RELEASE, {**request.params(), "claimed_at": claim.at})


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
