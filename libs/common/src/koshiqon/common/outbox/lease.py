"""The relay leader's lease on its advisory lock: what lets a standby take over from a
leader that froze or vanished with its sockets open, and keeps the old leader from acting
once it runs again (docs/architecture.md, 4.1)."""

from __future__ import annotations

import asyncio
import time

import asyncpg


class LeadershipLost(Exception):
    """The leader can no longer be sure it holds the lock: it stops and stands by."""


LOCK_KEY = "hashtext('koshiqon.outbox.' || current_schema())"
TRY_LOCK = f"SELECT pg_try_advisory_lock({LOCK_KEY})"
# the lock of this session, as pg_locks shows a one-bigint advisory key (split in two oids)
HOLDS_LOCK = (
    f"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    f" AND pid = pg_backend_pid() AND objsubid = 1"
    f" AND ((classid::int8 << 32) | objid::int8) = {LOCK_KEY}::int8)"
)


def lock_session(seconds: float) -> dict[str, str]:
    """The settings of the lock's session: the server ends it after `seconds` without a
    statement, which frees the lock of a leader that froze (a SIGSTOP, a paused VM) with its
    sockets open, while its kernel still answers TCP keepalives."""
    return {"idle_session_timeout": str(int(seconds * 1000))}


class Lease:
    """The leader's hold on the lock. A session-level advisory lock lasts as long as its
    session, and the server ends the lock's session after `seconds` without a statement
    (`idle_session_timeout`): a leader frozen or cut off loses the lock within `seconds`.
    A running leader confirms the lock every `seconds / 5` (`keep`), and trusts it only
    until `seconds - seconds / 5` after it sent its last confirmation: the server cannot have
    ended the session before then. Whatever the leader is about to do to the outbox or the
    broker, it `check`s first, so one that wakes up late (SIGCONT, a paused VM) stops before
    it fetches, sends or marks anything more."""

    def __init__(self, conn: asyncpg.Connection, *, seconds: float, since: float) -> None:
        self._conn = conn
        self._seconds = seconds
        self._heartbeat = seconds / 5
        self._trusted_until = since + seconds - self._heartbeat

    def check(self) -> None:
        if time.monotonic() >= self._trusted_until:
            raise LeadershipLost("the lock's session was not confirmed in time")

    async def keep(self) -> None:
        """Confirm the lock until cancelled; raise `LeadershipLost` when it cannot be."""
        while True:
            await asyncio.sleep(self._heartbeat)
            self.check()
            asked_at = time.monotonic()
            try:
                held = await self._conn.fetchval(
                    HOLDS_LOCK, timeout=max(self._trusted_until - asked_at, 0.001)
                )
            except Exception as exc:  # whatever it was, the lock is not confirmed
                raise LeadershipLost(f"the lock's session failed: {type(exc).__name__}") from exc
            if not held:
                raise LeadershipLost("the lock is not held")
            self._trusted_until = asked_at + self._seconds - self._heartbeat
