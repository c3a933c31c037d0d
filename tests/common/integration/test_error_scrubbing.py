"""Database error details never reach the logs or a dead letter's headers (issue 12, item 20).

PostgreSQL puts the offending values in an error's DETAIL (`Key (iin)=(...) already exists.`,
`Failing row contains (...)`), asyncpg appends it to `str(error)`, and SQLAlchemy adds the
statement's parameters. These tests raise the real errors on the local PostgreSQL and check
that `logs.safe_error_text` and the log lines of `logs.configure` keep none of the values.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import asyncpg
import pytest
import sqlalchemy.exc
from sqlalchemy import text
from support.selftest import Workspace

from koshiqon.common import logs
from koshiqon.common.database import roles

pytestmark = pytest.mark.integration

IIN = "791028302728"
NAME = "Seitkali"


async def _persons(ws: Workspace) -> asyncpg.Connection:
    conn = await asyncpg.connect(
        roles.asyncpg_dsn(ws.dsn), server_settings={"search_path": ws.schema}
    )
    await conn.execute(
        "CREATE TABLE persons (iin text UNIQUE, surname text CHECK (length(surname) < 5))"
    )
    return conn


async def unique_violation(ws: Workspace) -> asyncpg.UniqueViolationError:
    conn = await _persons(ws)
    try:
        await conn.execute("INSERT INTO persons (iin) VALUES ($1)", IIN)
        with pytest.raises(asyncpg.UniqueViolationError) as raised:
            await conn.execute("INSERT INTO persons (iin) VALUES ($1)", IIN)
    finally:
        await conn.close()
    return raised.value


def assert_no_personal_data(rendered: str) -> None:
    assert IIN not in rendered
    assert NAME not in rendered
    assert "Failing row contains (" + IIN not in rendered


async def test_a_unique_violation_keeps_its_constraint_but_not_the_key(ws: Workspace) -> None:
    error = await unique_violation(ws)
    assert error.detail == f"Key (iin)=({IIN}) already exists."  # the real thing
    assert IIN in str(error)
    safe = logs.safe_error_text(error)
    assert_no_personal_data(safe)
    assert 'duplicate key value violates unique constraint "persons_iin_key"' in safe
    assert "Key (iin)=(…)" in safe


async def test_a_check_violation_loses_its_failing_row(ws: Workspace) -> None:
    conn = await _persons(ws)
    try:
        with pytest.raises(asyncpg.CheckViolationError) as raised:
            await conn.execute("INSERT INTO persons VALUES ($1, $2)", IIN, NAME + "-Aidos")
    finally:
        await conn.close()
    assert "Failing row contains" in str(raised.value)
    safe = logs.safe_error_text(raised.value)
    assert_no_personal_data(safe)
    assert 'violates check constraint "persons_surname_check"' in safe


async def test_sqlalchemys_wrapper_loses_the_detail_and_the_parameters(ws: Workspace) -> None:
    await (await _persons(ws)).close()
    insert = text("INSERT INTO persons (iin, surname) VALUES (:iin, :surname)")
    async with ws.engine.begin() as conn:
        await conn.execute(insert, {"iin": IIN, "surname": "Ali"})
    with pytest.raises(sqlalchemy.exc.IntegrityError) as raised:
        async with ws.engine.begin() as conn:
            await conn.execute(insert, {"iin": IIN, "surname": "Ali"})
    assert IIN in str(raised.value)  # `[parameters: ('791028302728', 'Ali')]`
    cause = raised.value.orig.__cause__  # the asyncpg error under SQLAlchemy's adapted one
    assert isinstance(cause, asyncpg.UniqueViolationError)
    assert IIN in str(cause)
    for error in (raised.value, raised.value.orig, cause):
        safe = logs.safe_error_text(error)
        assert_no_personal_data(safe)
        assert "persons_iin_key" in safe


@pytest.fixture
def configured_logs() -> Iterator[io.StringIO]:
    """`logs.configure` writing to a buffer; the root logger is put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    out = io.StringIO()
    stderr, sys.stderr = sys.stderr, out
    try:
        logs.configure("test-service", "INFO")
    finally:
        sys.stderr = stderr
    try:
        yield out
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


async def test_log_lines_of_configure_carry_no_database_detail(
    ws: Workspace, configured_logs: io.StringIO
) -> None:
    error = await unique_violation(ws)
    log = logging.getLogger("koshiqon.test-scrubbing")
    try:
        raise RuntimeError("the handler failed") from error
    except RuntimeError as wrapped:
        log.exception("consumer.handler-failed", extra={"error": repr(error), "exc": wrapped})
    log.warning("consumer.retry %s", error, extra={"detail": str(error)})
    log.error("consumer.dlq-failed", extra={"error": error})
    lines = configured_logs.getvalue().splitlines()
    assert len(lines) == 3
    assert_no_personal_data("\n".join(lines))
    assert "UniqueViolationError" in lines[0]  # the traceback is still there, scrubbed
    assert "persons_iin_key" in lines[1]


async def test_a_dead_letters_headers_carry_no_database_detail(ws: Workspace) -> None:
    """What the consumer runner puts in `dlq.error.message` when a handler fails with the
    database's refusal: the constraint, not the key's value."""
    from aiokafka.structs import ConsumerRecord

    from koshiqon.common.consumer.failures import error_headers

    error = await unique_violation(ws)
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic="registration.v1",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=[],
    )
    headers = error_headers("quota", record, error)
    assert_no_personal_data(headers["error.message"])
    assert "persons_iin_key" in headers["error.message"]
