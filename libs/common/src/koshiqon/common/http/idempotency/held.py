"""The held transaction: a keyed request's effect commits together with its response.

A unit of work under an `Idempotency-Key` does not commit on its own (`commit_effect`
holds its transaction); the middleware writes the finished response into the claim in that
same transaction and commits both, so no effect ever commits without the response a repeat
would get. A route whose effect is idempotent by the request's own identity says so
(`effect_is_idempotent`): nothing is held for it. `_running` is the keyed request of the
current context, set by the middleware.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.responses import Response

from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.database.driver import driver_connection
from koshiqon.common.http.idempotency.store import (
    _COMPLETE_HELD,
    _EFFECT,
    Claimed,
    IdempotencyStore,
    KeyedRequest,
    StoredResponse,
    storable,
)
from koshiqon.common.http.problems import RETRY_AFTER_SECONDS, problem_response, transient
from koshiqon.common.metrics import IDEMPOTENT_REQUESTS

log = logging.getLogger("koshiqon.http.idempotency")


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
    the stored response once the response is complete (docs/idempotency.md). True when it
    was held: the caller must then neither commit nor close it."""
    running = _running.get()
    if running is None or not running.may_hold():
        if running is not None and not running.idempotent_effect:
            await record_effect(target)  # the request is past holding: mark it, as before
        await transaction.commit()
        return False
    running.hold(await _driver(target), transaction)
    return True


def keyed_request() -> bool:
    """Whether a keyed request whose effect is held runs in this context: its unit of work
    must then commit through `commit_effect`, never on its own (no autocommitted
    statement)."""
    running = _running.get()
    return running is not None and not running.idempotent_effect


def effect_is_idempotent() -> None:
    """The route running says that its effect is idempotent by the request's own identity:
    a repeat of the request carries nothing out a second time and is answered with the
    first outcome (a reservation, by its application id). Under an Idempotency-Key its unit
    of work then commits on its own, as outside one, and its response is kept after it. So
    the transaction, and its locks, do not wait for the response to be stored (on a hot
    quota that wait is in every reservation's lock); should the response be lost, a retry
    under the key runs the request again and gets the same answer from it. Call it before
    the unit of work; no-op outside a keyed request."""
    running = _running.get()
    if running is not None:
        running.idempotent_effect = True


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


@dataclass
class _Held:
    conn: DriverConnection
    transaction: HeldTransaction


class _KeyedRun:
    """One keyed request being run: its claim, and the transaction of its effect while the
    response is being made."""

    def __init__(
        self, store: IdempotencyStore, request: KeyedRequest, claim: Claimed, *, path: str
    ) -> None:
        self._store = store
        self.request = request
        self.claim = claim
        self._path = path
        self._held: _Held | None = None
        self._responding = False
        self.idempotent_effect = False  # `effect_is_idempotent`: nothing is held

    def claim_params(self) -> tuple[str, str, datetime]:
        return self.request.key, self.request.principal, self.claim.at

    def may_hold(self) -> bool:
        return self._held is None and not self._responding and not self.idempotent_effect

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
