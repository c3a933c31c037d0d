"""An outbox relay in a process of its own, so a test can SIGKILL it.

python -m support.relay_process <dsn> <schema> <bootstrap>
"""

from __future__ import annotations

import argparse
import asyncio

from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.common.worker import run_components


async def main(args: argparse.Namespace) -> None:
    relay = OutboxRelay(
        RelayConfig(dsn=args.dsn, schema=args.schema, bootstrap=args.bootstrap, service="victim")
    )
    await run_components([relay.run])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("dsn", "schema", "bootstrap"):
        parser.add_argument(name)
    asyncio.run(main(parser.parse_args()))
