"""A consumer in a process of its own, so a test can SIGKILL it at an exact point.

    python -m support.consumer_process <dsn> <schema> <bootstrap> <group> <topic> <suffix> \
        [--die-after-commit MARKER] [--transaction-batch N]

With --die-after-commit, the process kills itself with SIGKILL right after the database
commit of the first event it handles (before its offset is committed), once: the marker file
records that it has died, so the restarted process runs normally. --transaction-batch is
ConsumerConfig.transaction_batch (the hook then runs after the commit of a chunk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.events.contracts import event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.worker import run_components
from support.selftest import Counted, record_effect


def _declare(suffix: str, topic: str) -> str:
    payload: type[Counted] = type(f"Counted_{suffix}", (Counted,), {"__module__": __name__})
    event("selftest", f"counted-{suffix}", topic=topic)(payload)
    return payload.contract.type


async def main(args: argparse.Namespace) -> None:
    event_type = _declare(args.suffix, args.topic)
    engine = create_engine(args.dsn, schema=args.schema, application="selftest-consumer")
    marker = Path(args.die_after_commit) if args.die_after_commit else None

    async def die_once(_: Envelope) -> None:
        if marker is not None and not marker.exists():
            marker.write_text("died")
            os.kill(os.getpid(), signal.SIGKILL)

    runner = ConsumerRunner(
        Subscription(group=args.group, topics=[args.topic], handlers={event_type: record_effect}),
        session_factory(engine),
        ConsumerConfig(
            bootstrap=args.bootstrap,
            after_commit=die_once,
            transaction_batch=args.transaction_batch,
        ),
    )
    try:
        await run_components([runner.run])
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("dsn", "schema", "bootstrap", "group", "topic", "suffix"):
        parser.add_argument(name)
    parser.add_argument("--die-after-commit", default=None)
    parser.add_argument("--transaction-batch", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
