"""The leader's lease (issue 12, item 2), in one process: a relay whose event loop stalls
longer than its lease, in the middle of a batch, hands its producer nothing more once it runs
again; it leads again only on a new lock, with a new producer, and every row gets out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from support.kafka import envelopes, read_topic, wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract, unpublished
from support.selftest import running_relay as relay

from koshiqon.common.kafka import producer_settings

pytestmark = pytest.mark.integration

LEASE = 3.0


@dataclass
class Sends:
    """What each producer the relay made was handed: (producer number, monotonic time)."""

    entries: list[tuple[int, float]] = field(default_factory=list)
    thawed_at: float | None = None


class StallingProducer(AIOKafkaProducer):  # type: ignore[misc]
    """The real producer; the first one made blocks the whole event loop, once, at its 50th
    record, for longer than the lease: to PostgreSQL the relay is as frozen as a SIGSTOPped
    process, and when it runs again it is in the middle of handing over a batch."""

    def __init__(self, sends: Sends, number: int, **settings: Any) -> None:
        super().__init__(**settings)
        self._sends = sends
        self._number = number

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        self._sends.entries.append((self._number, time.monotonic()))
        if self._number == 0 and len(self._sends.entries) == 50:
            time.sleep(LEASE + 1.5)  # noqa: ASYNC251 - the stall is the point
            self._sends.thawed_at = time.monotonic()
        return await super().send(*args, **kwargs)


async def test_a_leader_that_stalled_past_its_lease_sends_nothing_more(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    events = [counted(payload, key=f"k{i % 4}", seq=i) for i in range(200)]
    await ws.publish_via_outbox(*events)
    sends = Sends()
    made: list[int] = []

    def producers() -> AIOKafkaProducer:
        made.append(len(made))
        settings = producer_settings(bootstrap, client_id=f"selftest-lease-{made[-1]}")
        return StallingProducer(sends, made[-1], **settings)

    async with relay(ws, bootstrap, producers, lease=LEASE, standby_retry=0.2, batch_size=100):
        await wait_for(lambda: _none_left(ws), timeout=30)
    records = await read_topic(bootstrap, topic.name, at_least=200, settle=1.0)

    assert sends.thawed_at is not None
    assert [at for number, at in sends.entries if number == 0 and at > sends.thawed_at] == []
    assert len(made) >= 2  # it led again on a new lock, with a new producer
    assert {e.id for e in envelopes(records)} == {e.id for e in events}


async def _none_left(ws: Workspace) -> bool:
    return await unpublished(ws) == 0
