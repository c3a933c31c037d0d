"""The one answer to "will this failure pass if the same work is tried again later?", shared
by the HTTP layer (a 503 with Retry-After rather than a 500) and the consumer runner (a retry
that does not count towards dead-lettering rather than an attempt).

Transient: the database or the network to it away for a while, and what a failover or an
overloaded server does to a transaction —
- a connection refused, reset, closed or timed out (08xxx, `ConnectionError`, network
  errnos, `TimeoutError`, a pooled connection that did not come free in time, a pooled
  connection the server closed meanwhile: asyncpg's InterfaceError "connection is closed",
  which a database restart gives the first request on each of them);
- operator intervention (57xxx): admin or crash shutdown, cannot connect now (a server
  starting, or a standby not yet promoted), a statement timeout or cancel, idle timeouts;
- a read-only transaction (25006: the old primary is a standby now), transaction and idle
  in transaction timeouts (25P03, 25P04), a lock timeout (55P03);
- serialization failures and deadlocks (40xxx), too many connections (53300);
- a prepared statement invalidated by a migration (it is prepared again on the retry);
- `koshiqon.common.errors.TransientError`, raised by code that knows.

Each is recognised directly, under SQLAlchemy's wrapping (`DBAPIError.orig`, itself an
adapter error whose cause is asyncpg's), by its SQLSTATE, or as the (explicit) cause of
another error.
"""

from __future__ import annotations

import errno

import asyncpg
import sqlalchemy.exc

from koshiqon.common.errors import TransientError

TRANSIENT_CLASSES: tuple[type[BaseException], ...] = (
    TransientError,
    asyncpg.PostgresConnectionError,  # 08xxx, and a connection that died under the work
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # 25006
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,  # 25P03
    asyncpg.exceptions.LockNotAvailableError,  # 55P03
    asyncpg.exceptions.TooManyConnectionsError,  # 53300
    asyncpg.exceptions.TransactionRollbackError,  # 40xxx
    asyncpg.exceptions.InvalidCachedStatementError,
    asyncpg.exceptions.OutdatedSchemaCacheError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    ConnectionError,
    TimeoutError,
)

# asyncpg's words for a connection closed under it (an InterfaceError, as are defects such
# as two operations at once on one connection, which stay 500s)
CLOSED_CONNECTION = "connection is closed"

# SQLSTATE classes and codes, for an error seen through an adapter that kept only the code
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "57"})
TRANSIENT_SQLSTATES = frozenset({"25006", "25P03", "25P04", "55P03", "53300"})

NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EPIPE,
    }
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or an error it wraps or was caused by, is transient (see the module)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _transient_itself(current):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.orig is not None:
            todo.append(current.orig)
        if current.__cause__ is not None:  # `raise ... from`: an explicit cause only
            todo.append(current.__cause__)
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, TRANSIENT_CLASSES):
        return True
    if isinstance(exc, asyncpg.InterfaceError) and str(exc) == CLOSED_CONNECTION:
        return True
    if isinstance(exc, OSError):  # a connect to several addresses fails with errno None
        return exc.errno in NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES
    return False
