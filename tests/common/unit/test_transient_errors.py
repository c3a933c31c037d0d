"""Which failures answer 503 with Retry-After (the database away for a while) and which
stay a 500 (a defect)."""

from __future__ import annotations

import errno

import asyncpg
import pytest
import sqlalchemy.exc

from koshiqon.common.http.problems import transient


def wrapped(cause: BaseException) -> Exception:
    try:
        raise RuntimeError("while handling the request") from cause
    except RuntimeError as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
        TimeoutError(),
        OSError("Multiple exceptions: [Errno 111] Connect call failed, [Errno 99] ..."),
        OSError(errno.EHOSTUNREACH, "no route to host"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        asyncpg.exceptions.InvalidCachedStatementError("cached plan must not change result"),
        sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionResetError()),
        sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception(), connection_invalidated=True),
        wrapped(ConnectionRefusedError()),
    ],
    ids=lambda e: type(e).__name__,
)
def test_the_database_away_is_transient(error: BaseException) -> None:
    assert transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        KeyError("a bug"),
        FileNotFoundError(errno.ENOENT, "no such file"),
        PermissionError(errno.EACCES, "denied"),
        asyncpg.exceptions.UndefinedColumnError("column does not exist"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        wrapped(ValueError("a bug")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_defect_is_not_transient(error: BaseException) -> None:
    assert not transient(error)
