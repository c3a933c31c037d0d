"""`IdempotencyMiddleware`: a POST under an `Idempotency-Key` runs once, a repeat is replayed.

Why plain ASGI and not a FastAPI dependency: the promise is "the first *response* again",
and only a middleware sees the exact status, headers and bytes the client got, whichever
layer rendered them (a 422 validation problem, a domain 404 or 409), and can answer a replay
without running the route. The price: it runs before routing, so it verifies the bearer
token itself, and it names the route by method and concrete path, not the template.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koshiqon.common.auth.dependencies import bearer_token, token_verifier
from koshiqon.common.errors import Unauthenticated
from koshiqon.common.http.idempotency.held import _count, _KeyedRun, _running
from koshiqon.common.http.idempotency.store import (
    IN_FLIGHT_LEASE,
    KEY_TTL,
    Claimed,
    IdempotencyStore,
    KeyedRequest,
    StoredResponse,
    Verdict,
)
from koshiqon.common.http.problems import problem_response

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_HEADERS = frozenset(
    {"content-type", "location", "content-location", "etag", "last-modified", "link"}
)

_KEY = re.compile(r"[\x20-\x7e]{1,200}")
_HEADER_KEY = IDEMPOTENCY_HEADER.lower().encode("latin-1")
_MAX_PRINCIPAL = 200
_AUTHORITY_DIGITS = 16  # of the sha256 of a token's scopes, agency and region
_MAX_ROUTE = 300

log = logging.getLogger("koshiqon.http.idempotency")


class IdempotencyMiddleware:
    """Plain ASGI middleware giving POST requests the `Idempotency-Key` semantics
    (docs/idempotency.md)."""

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
        if body is None:  # the client went away mid-body: nothing to claim, no one to answer
            _count("abandoned")  # not run, not claimed
            return
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
    """The verified caller: its subject and a digest of what its token allows (scopes,
    agency, region), or None when there is no trustworthy bearer token. A key's stored
    response is replayed only to a token with the same authority, since a replay skips the
    route's authorization: the same subject with fewer scopes or another region is another
    caller, whose request the route then judges itself."""
    verifier = token_verifier(scope["app"])
    authorization = next((v for n, v in scope.get("headers", ()) if n == b"authorization"), b"")
    token = bearer_token(authorization.decode("latin-1"))
    if token is None:
        return None
    try:
        principal = await verifier.verify(token)
    except Unauthenticated:
        return None
    authority = "\x1f".join(
        [*sorted(principal.scopes), f"agency={principal.agency}", f"region={principal.region}"]
    )
    digest = hashlib.sha256(authority.encode()).hexdigest()[:_AUTHORITY_DIGITS]
    subject = _bounded(principal.subject, _MAX_PRINCIPAL - _AUTHORITY_DIGITS - 1)
    return f"{subject} {digest}"


def _sessions(scope: Scope) -> async_sessionmaker[AsyncSession]:
    sessions = getattr(scope["app"].state, "sessions", None)
    if not isinstance(sessions, async_sessionmaker):
        raise RuntimeError(
            "app.state.sessions is not set: an app taking Idempotency-Key is made by "
            "koshiqon.common.http.app.create_app, which sets it"
        )
    return sessions


async def _buffer_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole request body, and a `receive` that hands it to the app once more; None
    when the client went away before the body was complete (its part is not a request)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
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
