"""An outbox relay in a process of its own, so a test can SIGKILL or SIGSTOP it.

    python -m support.relay_process <dsn> <schema> <bootstrap> [--name victim] [--journal F]

`--name` is the relay's service label: its sessions' application name is
`<name>-outbox-relay`, so a test can tell from pg_stat_activity which relay holds the lock.
With `--journal`, every record the relay hands to its producer is written to that file as a
line `<unix time> <event id>` when it is handed over, so a test knows what this relay sent,
and when.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import IO, Any

from aiokafka import AIOKafkaProducer

from koshiqon.common.kafka import producer_settings
from koshiqon.common.outbox import OutboxRelay, ProducerFactory, RelayConfig
from koshiqon.common.worker import run_components


class JournalledProducer(AIOKafkaProducer):  # type: ignore[misc]
    """The real producer, writing down each record's event id as the relay sends it."""

    def __init__(self, journal: IO[str], **settings: Any) -> None:
        super().__init__(**settings)
        self._journal = journal

    async def send(self, topic: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        event_id = dict(kwargs["headers"])["ce_id"].decode()
        self._journal.write(f"{time.time():.6f} {event_id}\n")
        return await super().send(topic, value, *args, **kwargs)


def journalled(bootstrap: str, *, name: str, journal: IO[str]) -> ProducerFactory:
    def producer() -> AIOKafkaProducer:
        settings = producer_settings(bootstrap, client_id=f"{name}-outbox-relay")
        return JournalledProducer(journal, **settings)

    return producer


async def main(args: argparse.Namespace, journal: IO[str] | None) -> None:
    config = RelayConfig(
        dsn=args.dsn, schema=args.schema, bootstrap=args.bootstrap, service=args.name
    )
    producers = (
        None if journal is None else journalled(args.bootstrap, name=args.name, journal=journal)
    )
    await run_components([OutboxRelay(config, producer_factory=producers).run])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("dsn", "schema", "bootstrap"):
        parser.add_argument(name)
    parser.add_argument("--name", default="victim")
    parser.add_argument("--journal", default=None)
    arguments = parser.parse_args()
    with contextlib.ExitStack() as files:
        # line-buffered: a line is in the file as soon as it is written
        journal = arguments.journal and files.enter_context(
            open(arguments.journal, "a", buffering=1)
        )
        asyncio.run(main(arguments, journal or None))
