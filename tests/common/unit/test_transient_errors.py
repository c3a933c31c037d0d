"""Which failures are transient — a 503 with Retry-After over HTTP, a retry that does not
count towards dead-lettering in the consumer — and which are not (a 500, an attempt). One
classifier, `koshiqon.common.transient.is_transient`, answers for both; each error is tried
directly, under SQLAlchemy's wrapping (the asyncpg dialect's own translation, then
`DBAPIError.instance`, as a failing statement raises it) and as the cause of another error."""

from __future__ import annotations

import errno
from collections.abc import Callable

import asyncpg
import pytest
import sqlalchemy.exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from koshiqon.common.consumer import is_transient as consumer_transient
from koshiqon.common.errors import InvalidInput, TransientError
from koshiqon.common.http.problems import transient as http_transient
from koshiqon.common.transient import is_transient

DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)


def caused(cause: BaseException) -> Exception:
    try:
        raise RuntimeError("while handling the request") from cause
    except RuntimeError as error:
        return error


def under_sqlalchemy(error: BaseException) -> BaseException:
    """What a statement failing with `error` raises through SQLAlchemy's asyncpg dialect."""
    if not isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        return error
    translate = DBAPI._asyncpg_error_translate
    adapter = next(translate[t] for t in type(error).__mro__ if t in translate)
    try:
        try:
            raise adapter(f"{type(error)}: {error}") from error
        except adapter as translated:
            translated.pgcode = translated.sqlstate = getattr(error, "sqlstate", None)
            raise sqlalchemy.exc.DBAPIError.instance(
                "SELECT 1", {}, translated, DBAPI.Error
            ) from translated
    except sqlalchemy.exc.DBAPIError as wrapped:
        return wrapped


FORMS: dict[str, Callable[[BaseException], BaseException]] = {
    "direct": lambda e: e,
    "sqlalchemy": under_sqlalchemy,
    "cause": caused,
    "sqlalchemy-cause": lambda e: caused(under_sqlalchemy(e)),
}
CLASSIFIERS = {"shared": is_transient, "http": http_transient, "consumer": consumer_transient}

TRANSIENT = [
    ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    ConnectionResetError(errno.ECONNRESET, "reset"),
    TimeoutError(),
    OSError("Multiple exceptions: [Errno 111] Connect call failed, [Errno 99] ..."),
    OSError(errno.EHOSTUNREACH, "no route to host"),
    TransientError("the caller knows"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    asyncpg.exceptions.InterfaceError("connection is closed"),  # pooled, the server restarted
    asyncpg.exceptions.ConnectionFailureError("connection failure"),
    asyncpg.exceptions.ReadOnlySQLTransactionError(
        "cannot execute INSERT in a read-only transaction"
    ),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"),
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError("idle-in-transaction timeout"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection because of crash"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.IdleSessionTimeoutError("idle-session timeout"),
    asyncpg.exceptions.TooManyConnectionsError("too many clients"),
    asyncpg.exceptions.SerializationError("could not serialize access"),
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    asyncpg.exceptions.InvalidCachedStatementError("cached plan must not change result"),
    sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
    sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionResetError()),
    sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception(), connection_invalidated=True),
]

NOT_TRANSIENT = [
    ValueError("a bug"),
    KeyError("a bug"),
    FileNotFoundError(errno.ENOENT, "no such file"),
    PermissionError(errno.EACCES, "denied"),
    InvalidInput("a domain refusal"),
    asyncpg.exceptions.UndefinedColumnError("column does not exist"),
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    asyncpg.exceptions.CheckViolationError("violates check constraint"),
    asyncpg.exceptions.DataError("invalid input syntax"),
    asyncpg.exceptions.InsufficientPrivilegeError("permission denied"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
]


def ids(e: BaseException) -> str:
    return type(e).__name__


@pytest.mark.parametrize("classifier", CLASSIFIERS)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("error", TRANSIENT, ids=ids)
def test_the_database_away_is_transient(error: BaseException, form: str, classifier: str) -> None:
    assert CLASSIFIERS[classifier](FORMS[form](error))


@pytest.mark.parametrize("classifier", CLASSIFIERS)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("error", NOT_TRANSIENT, ids=ids)
def test_a_defect_or_a_refusal_is_not_transient(
    error: BaseException, form: str, classifier: str
) -> None:
    assert not CLASSIFIERS[classifier](FORMS[form](error))


def raise_in_except_block() -> None:
    try:
        raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
    except asyncpg.PostgresError:
        raise ValueError("a bug in the except block")  # noqa: B904 (the context, kept)


def test_an_error_raised_while_handling_a_transient_one_is_not_transient_by_context() -> None:
    with pytest.raises(ValueError, match="except block") as raised:
        raise_in_except_block()
    assert raised.value.__context__ is not None
    assert not is_transient(raised.value)


def test_the_http_layer_and_the_consumer_share_the_classifier() -> None:
    import koshiqon.common.http.problems as problems

    assert problems.transient is is_transient
