"""A poison outbox row (issue 12, item 4): one that can never be published is parked after
`max_attempts` tries, counted, listed, and the rows behind it go on being published."""

from __future__ import annotations

import asyncio
import contextlib
import io

import pytest
from support.kafka import envelopes, read_topic, wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract
from support.selftest import running_relay as relay

from koshiqon.common import metrics, outbox

pytestmark = pytest.mark.integration

# a record far over the broker's message size limit (1 MiB by default), inserted like a
# service's own outbox row would be
OVERSIZED = (
    "INSERT INTO outbox (event_id, topic, key, event_type, value) "
    "VALUES (gen_random_uuid(), '{topic}', 'big', 'selftest.big', "
    "convert_to(repeat('x', {size}), 'UTF8')) RETURNING id"
)


def _parked_total() -> float:
    value = metrics.OUTBOX_PARKED.labels("selftest-parking")._value.get()
    return float(value)


@pytest.mark.parametrize(
    "size",
    [2 * 1024 * 1024, 5 * 1024 * 1024],
    ids=["refused-by-the-broker", "refused-by-the-producer"],
)
async def test_a_row_over_the_size_limit_is_parked_and_the_good_rows_are_published(
    ws: Workspace, bootstrap: str, size: int
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    before = [counted(payload, key=f"k{i % 3}", seq=i) for i in range(10)]
    after = [counted(payload, key=f"k{i % 3}", seq=i) for i in range(10, 20)]
    await ws.publish_via_outbox(*before)
    bad_id = await _insert(ws, OVERSIZED.format(topic=topic.name, size=size))
    await ws.publish_via_outbox(*after)
    parked_before = _parked_total()

    async with relay(ws, bootstrap, service="selftest-parking", max_attempts=3, poll_interval=0.2):
        records = await read_topic(bootstrap, topic.name, at_least=20, timeout=30, settle=2.0)
        await wait_for(lambda: _parked(ws, bad_id), timeout=30)

    ids = [e.id for e in envelopes(records)]
    assert sorted(map(str, ids)) == sorted(str(e.id) for e in before + after)  # each once
    assert await ws.scalar(f"SELECT attempts FROM outbox WHERE id = {bad_id}") == 3
    assert await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1
    assert _parked_total() == parked_before + 1

    listed = await outbox.parked_rows(ws.dsn, schema=ws.schema)
    assert [row.id for row in listed] == [bad_id]
    assert listed[0].attempts == 3
    assert listed[0].key == "big"
    assert "MessageSizeTooLarge" in (listed[0].last_error or "")
    lag = await outbox.outbox_lag(ws.dsn, schema=ws.schema)
    assert lag.unpublished == 0  # a parked row is no longer lag


async def _insert(ws: Workspace, sql: str) -> int:
    async with ws.engine.begin() as conn:
        return int((await conn.exec_driver_sql(sql)).scalar_one())


async def _parked(ws: Workspace, row_id: int) -> bool:
    return (
        await ws.scalar(
            f"SELECT count(*) FROM outbox WHERE id = {row_id} AND parked_at IS NOT NULL"
        )
        == 1
    )


async def test_the_parked_command_lists_a_services_parked_rows(ws: Workspace) -> None:
    row_id = await _insert(
        ws,
        "INSERT INTO outbox (event_id, topic, key, event_type, value, attempts, last_error,"
        " parked_at) VALUES (gen_random_uuid(), 't', 'person-1', 'selftest.x', '\\x00', 5,"
        " 'MessageSizeTooLargeError', now()) RETURNING id",
    )
    from koshiqon.devtools.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = await asyncio.to_thread(
            main, ["outbox", "parked", "--service", ws.schema, "--database-url", ws.dsn]
        )
    assert code == 0
    assert str(row_id) in out.getvalue()
    assert "person-1" in out.getvalue()
    assert "MessageSizeTooLargeError" in out.getvalue()
