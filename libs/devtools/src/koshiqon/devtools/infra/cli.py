"""`koshiqon infra up|down|reset|status`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from koshiqon.common import settings
from koshiqon.common.database import roles
from koshiqon.common.topics import CONTEXT_TOPICS, ensure_topics
from koshiqon.devtools.infra import kafka, postgres


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    infra = subparsers.add_parser("infra", help="the local Kafka and PostgreSQL")
    actions = infra.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start both (a no-op when they run) and wait until ready")
    up.set_defaults(func=_up)
    actions.add_parser("down", help="stop both").set_defaults(func=_down)
    actions.add_parser("reset", help="stop both and wipe their data").set_defaults(func=_reset)
    actions.add_parser("status", help="say what runs").set_defaults(func=_status)


def uses_local_postgres() -> bool:
    return "DATABASE_URL" not in os.environ


def _role_passwords() -> dict[str, str]:
    return {
        service: os.environ.get(f"{service.upper()}_DB_PASSWORD", settings.DEV_ROLE_PASSWORD)
        for service in roles.SERVICES
    }


def up() -> list[str]:
    """Start what is not running; returns the names of what this call started."""
    started: list[str] = []
    if uses_local_postgres() and postgres.start():
        started.append("postgres")
    if kafka.running() is None:
        kafka.start()
        started.append("kafka")
    kafka.wait_ready()
    asyncio.run(roles.bootstrap(settings.admin_dsn(), _role_passwords()))
    asyncio.run(ensure_topics(f"127.0.0.1:{kafka.BROKER_PORT}", CONTEXT_TOPICS))
    return started


def _up(_: argparse.Namespace) -> int:
    started = up()
    print("started: " + (", ".join(started) if started else "nothing (already running)"))
    return 0


def _down(_: argparse.Namespace) -> int:
    stopped = [
        name for name, stop in (("kafka", kafka.stop), ("postgres", postgres.stop)) if stop()
    ]
    print("stopped: " + (", ".join(stopped) if stopped else "nothing (not running)"))
    return 0


def _reset(args: argparse.Namespace) -> int:
    _down(args)
    kafka.wipe()
    postgres.wipe()
    print("wiped: kafka data, postgres data")
    return 0


def _status(_: argparse.Namespace) -> int:
    rows = {
        "kafka": kafka.running(),
        "postgres": postgres.running() if uses_local_postgres() else "external (DATABASE_URL)",
    }
    for name, pid in rows.items():
        print(f"{name}: " + ("stopped" if pid is None else f"running ({pid})"))
    return 0 if all(pid is not None for pid in rows.values()) else 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_status(argparse.Namespace()))
