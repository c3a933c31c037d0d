"""`Idempotency-Key` on POST: a repeated request gets the first response again.

Why an ASGI middleware and not a FastAPI dependency: the promise is "the first *response*
again", and a dependency never sees the response. It runs before the body is validated and
cannot see what exception handlers render (a 422 validation problem, a 404 or 409 domain
problem), which must be stored too; and to replay it would have to smuggle a stored
response out through an exception. A middleware sees the exact bytes, status and headers
the client got, whichever layer produced them, and can answer a replay without running the
route at all. What it gives up: it runs before routing and dependencies, so it verifies the
bearer token itself (the same `app.state.token_verifier`, one signature check more per keyed
POST), and it identifies the route by method and concrete path (`POST /persons/42/moves`)
rather than the template, which is the right identity for "the same request" anyway.

Semantics, per (key, caller's `sub`):
- first time: the key is claimed, the request runs, and a response below 500 is stored
  before any of it is sent, so a client that saw it can rely on the replay;
- same route and byte-identical body and query again: the stored response (status, body,
  and the headers in `REPLAYED_HEADERS`, e.g. Location) with `Idempotent-Replayed: true`;
- a different route or body: 422 naming `Idempotency-Key`;
- while the first is still running: 409 with `Retry-After`;
- a 5xx, an exception or a cancelled request: nothing is stored, the claim is dropped, and
  a retry runs again; its effect, if any, was rolled back with it (below). 401, 403, 408
  and 429 are not stored either: they describe the credentials or the server's state of
  the moment, not the request;
- keys expire after `KEY_TTL` (24 h): an expired key is a new key; `purge_expired_keys` is
  for the worker. A claim whose request died with its process is taken over by a retry
  after `IN_FLIGHT_LEASE`.
A request without valid credentials passes through untouched (the route refuses it, and
there is no caller to scope the key to). Another caller's identical key is another key.

Contract with the service: its lifespan sets `app.state.sessions`, an
`async_sessionmaker[AsyncSession]` whose connections work in the service's schema (as
`koshiqon.common.database.engine` makes them), where the platform table
`idempotency_keys` exists; its unit of work commits with `commit_effect` and calls
`settle_held` before it begins.

The effect and its response commit together. The claim is a short transaction of its own;
then, in a keyed request, `commit_effect` does not commit the unit of work's transaction but
holds it open, and once the response is complete the middleware writes the response into
the claim *in that same transaction* and commits it, and only then sends the response. So:
- a repeat gets the first response whatever happens after the commit: there is no moment
  at which the effect has committed and its response has not;
- a request that fails after its unit of work (a 5xx, an exception, a cancelled request, a
  process that dies) rolls its effect back with the rest, and a retry runs it again;
- a commit that fails answers 503 or 500 (never the 2xx rendered before it), and nothing
  of it stays.
A unit of work that begins while an earlier one of the same request is held commits that
one first (`settle_held`), so it never waits for the earlier one's locks; the earlier one's
claim is marked as carried out in it (`record_effect`, which a transaction committed by
other means calls too). If such a request then loses its response, a retry gets 409
`idempotency-response-lost` ("carried out; read the resource"), never a second run.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koshiqon.common.auth.dependencies import bearer_token, token_verifier
from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.database.driver import driver_connection
from koshiqon.common.errors import Unauthenticated
from koshiqon.common.http.problems import (
    RETRY_AFTER_SECONDS,
    problem_response,
    problem_responses,
    transient,
)
from koshiqon.common.metrics import IDEMPOTENT_REQUESTS

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)
IN_FLIGHT_LEASE = timedelta(minutes=5)
REPLAYED_HEADERS = frozenset(
    {"content-type", "location", "content-location", "etag", "last-modified", "link"}
)
NOT_STORED = frozenset({401, 403, 408, 429})

_KEY = re.compile(r"[\x20-\x7e]{1,200}")
_HEADER_KEY = IDEMPOTENCY_HEADER.lower().encode("latin-1")
_MAX_PRINCIPAL = 200
_MAX_ROUTE = 300

log = logging.getLogger("koshiqon.http.idempotency")

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
_PURGE = text("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => :age)")


class HeldTransaction(Protocol):
    """A unit of work's open transaction: a `PooledTransaction`, or an `AsyncSession` in one.
    `close` rolls back what was not committed and gives the connection back."""

    async def commit(self) -> None: ...

    async def close(self) -> None: ...


_running: contextvars.ContextVar[_KeyedRun | None] = contextvars.ContextVar(
    "idempotency_running", default=None
)


async def commit_effect(
    target: AsyncSession | AsyncConnection | DriverConnection, transaction: HeldTransaction
) -> bool:
    """Commit a unit of work's `transaction` (`target` is its connection or session).

    In a request under an Idempotency-Key it is held instead, and committed together with
    the stored response once the response is complete (see the module doc). True when it
    was held: the caller must then neither commit nor close it."""
    running = _running.get()
    if running is None or not running.may_hold():
        if running is not None:
            await record_effect(target)  # the request is past holding: mark it, as before
        await transaction.commit()
        return False
    running.hold(await _driver(target), transaction)
    return True


async def settle_held() -> None:
    """Commit the running keyed request's held transaction now, if there is one: a unit of
    work calls this before it begins another transaction, which must not wait for the
    held one's locks. Its claim is marked as carried out in it (`record_effect`)."""
    running = _running.get()
    if running is not None:
        await running.settle()


async def record_effect(target: AsyncSession | AsyncConnection | DriverConnection) -> None:
    """Mark the running keyed request's claim as carried out, in the caller's transaction,
    for a transaction that commits by other means than `commit_effect`: if its response is
    then lost, a retry under the key gets a 409 saying so instead of carrying the request
    out twice. No-op outside a keyed request."""
    running = _running.get()
    if running is not None:
        await (await _driver(target)).execute(_EFFECT, *running.claim_params())


async def _driver(target: AsyncSession | AsyncConnection | DriverConnection) -> DriverConnection:
    return await driver_connection(target)


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


async def purge_expired_keys(session: AsyncSession, *, older_than: timedelta = KEY_TTL) -> int:
    """Delete keys older than `older_than` in the caller's transaction; how many went."""
    result = await session.execute(_PURGE, {"age": older_than.total_seconds()})
    return int(cast(CursorResult[Any], result).rowcount)


class IdempotencyMiddleware:
    """Plain ASGI middleware implementing the module's semantics for POST requests."""

    def __init__(
        self, app: ASGIApp, *, ttl: timedelta = KEY_TTL, lease: timedelta = IN_FLIGHT_LEASE
    ) -> None:
        self.app = app
        self._ttl = ttl
        self._lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = _key_headers(scope)
        if not raw:
            await self.app(scope, receive, send)
            return
        if len(raw) > 1 or not _KEY.fullmatch(raw[0]):
            await _refuse_key(scope, receive, send, detail=_KEY_RULE)
            return
        principal = await _principal(scope)
        if principal is None:
            await self.app(scope, receive, send)  # the route answers 401 itself
            return
        body, receive = await _buffer_body(receive)
        request = _keyed(scope, key=raw[0], principal=principal, body=body)
        await self._handle(scope, receive, send, request)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, request: KeyedRequest
    ) -> None:
        store = IdempotencyStore(_sessions(scope), ttl=self._ttl, lease=self._lease)
        outcome = await store.claim(request)
        if isinstance(outcome, Claimed):
            await self._run(scope, receive, send, store=store, request=request, claim=outcome)
            return
        if isinstance(outcome, StoredResponse):
            _count("replayed")
            log.info("http.idempotency.replayed", extra={"route": request.route})
            await _replay(outcome, send)
            return
        _count(outcome.value)
        if outcome is Verdict.MISMATCH:
            log.warning("http.idempotency.key-reused", extra={"route": request.route})
            await _refuse_key(scope, receive, send, detail=_REUSED)
        elif outcome is Verdict.CARRIED_OUT:
            log.warning("http.idempotency.response-lost", extra={"route": request.route})
            await _refuse_carried_out(scope, receive, send)
        else:
            await _refuse_in_flight(scope, receive, send)

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        store: IdempotencyStore,
        request: KeyedRequest,
        claim: Claimed,
    ) -> None:
        run = _KeyedRun(store, request, claim, path=scope["path"])
        recorder = _Recorder(send, run.finish)
        token = _running.set(run)
        try:
            await self.app(scope, receive, recorder.send)
        finally:
            _running.reset(token)
            if not recorder.finished:  # failed, cancelled, or never completed its response
                await asyncio.shield(run.abandon())


_KEY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the POST safe to retry: a repeat with the same key, route and body gets the"
        " first response again (with `Idempotent-Replayed: true`), for 24 hours; the same key"
        " with another route or body is refused (422), and a repeat while the first is still"
        " running gets 409 with `Retry-After`. Keys are the caller's own: another caller's"
        " identical key is another key."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[ -~]+$"},
}
_REPLAYED_DESCRIPTION = {
    "description": "`true` on a replay: the response to the first request with this key",
    "schema": {"type": "string", "enum": ["true"]},
}


def idempotency_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI document so every POST declares the optional `Idempotency-Key`
    header, the `Idempotent-Replayed` header of its successful responses, and the 409 and
    422 a key can answer."""
    for path_item in schema.get("paths", {}).values():
        operation = path_item.get("post")
        if not isinstance(operation, dict):
            continue
        operation.setdefault("parameters", []).append(dict(_KEY_PARAMETER))
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            if str(status).startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = dict(_REPLAYED_DESCRIPTION)
        for status, documented in problem_responses(409, 422).items():
            responses.setdefault(str(status), {"description": documented["description"]})
    return schema


def storable(status: int) -> bool:
    """Whether a response with `status` is kept for replay (see the module doc)."""
    return status < 500 and status not in NOT_STORED


@dataclass
class _Held:
    conn: DriverConnection
    transaction: HeldTransaction


class _KeyedRun:
    """One keyed request being run: its claim, and the transaction of its effect while the
    response is being made (see the module doc)."""

    def __init__(
        self, store: IdempotencyStore, request: KeyedRequest, claim: Claimed, *, path: str
    ) -> None:
        self._store = store
        self.request = request
        self.claim = claim
        self._path = path
        self._held: _Held | None = None
        self._responding = False

    def claim_params(self) -> tuple[str, str, datetime]:
        return self.request.key, self.request.principal, self.claim.at

    def may_hold(self) -> bool:
        return self._held is None and not self._responding

    def hold(self, conn: DriverConnection, transaction: HeldTransaction) -> None:
        self._held = _Held(conn, transaction)

    async def settle(self) -> None:
        """Commit the held transaction now, marked as carried out."""
        held = self._held
        if held is None:
            return
        try:
            await held.conn.execute(_EFFECT, *self.claim_params())
            await held.transaction.commit()
        finally:
            await self._close()

    async def finish(self, response: StoredResponse) -> Response | None:
        """Keep `response` for replay, with its effect if one is held. None when it may go
        out as it is; else the response to send instead (its effect failed to commit)."""
        self._responding = True
        if self._held is None:
            await self._keep(response)
            return None
        if not storable(response.status):
            await self.abandon()  # a 5xx after the effect: the effect goes with it
            return None
        try:
            await self._commit_with(response)
        except Exception as error:
            log.exception("http.idempotency.commit-failed", extra={"route": self.request.route})
            await self.abandon(outcome="commit-failed")
            return _commit_failed(error, path=self._path)
        await self._close()
        _count("stored")
        return None

    async def abandon(self, *, outcome: str | None = None) -> None:
        """Roll the held effect back, if any, and drop the claim. Failures are logged: a
        claim left behind only delays a retry until the lease runs out."""
        _count(outcome or ("rolled-back" if self._held is not None else "released"))
        try:
            await self._close()
            await self._store.release(self.request, self.claim)
        except Exception:
            log.exception("http.idempotency.release-failed", extra={"route": self.request.route})

    async def _commit_with(self, response: StoredResponse) -> None:
        assert self._held is not None
        headers = orjson.dumps([list(pair) for pair in response.headers]).decode()
        stored = (response.status, response.body, headers)
        status = await self._held.conn.execute(_COMPLETE_HELD, *self.claim_params(), *stored)
        if status != "UPDATE 1":  # a retry took the claim over after the lease: its turn
            raise RuntimeError("the claim was taken over; the effect is not committed")
        await self._held.transaction.commit()

    async def _keep(self, response: StoredResponse) -> None:
        kept = storable(response.status)
        _count("stored" if kept else "released")
        try:
            if kept:
                await self._store.complete(self.request, self.claim, response)
            else:
                await self._store.release(self.request, self.claim)
        except Exception:  # the client still gets its response; a retry may rerun it
            log.exception("http.idempotency.store-failed", extra={"route": self.request.route})

    async def _close(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held.transaction.close()


def _count(outcome: str) -> None:
    IDEMPOTENT_REQUESTS.labels(outcome).inc()


def _commit_failed(error: Exception, *, path: str) -> Response:
    """What a client gets when the effect it asked for could not be committed: nothing of
    it stays, and a retry under the same key runs it again."""
    if transient(error):
        status, title, code = 503, "Service unavailable", "unavailable"
        headers: dict[str, str] | None = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    else:
        status, title, code, headers = 500, "Internal error", "internal", None
    return problem_response(
        status,
        title=title,
        detail="the request could not be committed; nothing of it was kept",
        code=code,
        instance=path,
        headers=headers,
    )


class _Recorder:
    """Holds the response back until its last body message, hands it to `finish`, then
    sends it, or what `finish` answers instead."""

    def __init__(
        self, send: Send, finish: Callable[[StoredResponse], Awaitable[Response | None]]
    ) -> None:
        self._send = send
        self._finish = finish
        self._start: Message | None = None
        self._body: list[bytes] = []
        self.finished = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._body.append(bytes(message.get("body", b"")))
        if message.get("more_body", False):
            return
        start, body = self._start, b"".join(self._body)
        status = int(start["status"])
        instead = await self._finish(
            StoredResponse(status, body, _replayable(start.get("headers", ())))
        )
        self.finished = True
        if instead is not None:
            start = {"type": "http.response.start", "status": instead.status_code}
            start["headers"] = instead.raw_headers
            body = bytes(instead.body)
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})


def _replayable(headers: Any) -> list[tuple[str, str]]:
    pairs = ((bytes(n).decode("latin-1").lower(), bytes(v).decode("latin-1")) for n, v in headers)
    return [(name, value) for name, value in pairs if name in REPLAYED_HEADERS]


async def _replay(response: StoredResponse, send: Send) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in response.headers]
    headers += [
        (b"content-length", str(len(response.body)).encode("latin-1")),
        (REPLAYED_HEADER.lower().encode("latin-1"), b"true"),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _key_headers(scope: Scope) -> list[str]:
    if scope["type"] != "http" or scope["method"] != "POST":
        return []
    return [v.decode("latin-1") for n, v in scope.get("headers", ()) if n == _HEADER_KEY]


async def _principal(scope: Scope) -> str | None:
    """The verified caller's subject, or None when there is no trustworthy bearer token."""
    verifier = token_verifier(scope["app"])
    authorization = next((v for n, v in scope.get("headers", ()) if n == b"authorization"), b"")
    token = bearer_token(authorization.decode("latin-1"))
    if token is None:
        return None
    try:
        principal = await verifier.verify(token)
    except Unauthenticated:
        return None
    return _bounded(principal.subject, _MAX_PRINCIPAL)


def _sessions(scope: Scope) -> async_sessionmaker[AsyncSession]:
    sessions = getattr(scope["app"].state, "sessions", None)
    if not isinstance(sessions, async_sessionmaker):
        raise RuntimeError(
            "app.state.sessions is not set: a service taking Idempotency-Key must set it "
            "in its lifespan (see koshiqon.common.http.idempotency)"
        )
    return sessions


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it to the app once more."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app will see the same
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _keyed(scope: Scope, *, key: str, principal: str, body: bytes) -> KeyedRequest:
    digest = hashlib.sha256(scope.get("query_string", b""))
    digest.update(b"\x00")
    digest.update(body)
    route = _bounded(f"POST {scope['path']}", _MAX_ROUTE)
    return KeyedRequest(key=key, principal=principal, route=route, request_hash=digest.hexdigest())


def _bounded(value: str, limit: int) -> str:
    """`value`, or its digest when it would not fit its column."""
    if len(value) <= limit:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


_KEY_RULE = "Idempotency-Key must be one header of 1 to 200 printable ASCII characters"
_REUSED = "this Idempotency-Key was used for a different request (route or body)"


async def _refuse_key(scope: Scope, receive: Receive, send: Send, *, detail: str) -> None:
    response = problem_response(
        422,
        title="Invalid input",
        detail=detail,
        code="invalid-idempotency-key",
        instance=scope["path"],
        extra={"errors": [{"field": IDEMPOTENCY_HEADER, "message": detail}]},
    )
    await response(scope, receive, send)


async def _refuse_carried_out(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        409,
        title="Conflict",
        detail=(
            "the request with this Idempotency-Key was carried out, but its response was not"
            " kept; read the resource to see the outcome"
        ),
        code="idempotency-response-lost",
        instance=scope["path"],
    )
    await response(scope, receive, send)


async def _refuse_in_flight(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        409,
        title="Conflict",
        detail="a request with this Idempotency-Key is still being processed; retry later",
        code="idempotency-key-in-use",
        instance=scope["path"],
        headers={"Retry-After": "1"},
    )
    await response(scope, receive, send)
