"""`koshiqon infra up|down|reset|status`, on the default instance, or on a private one beside
it with `--state-dir DIR --base-port N` (instance.Instance.of_private)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from koshiqon.common import settings
from koshiqon.common.database import roles
from koshiqon.common.topics import CONTEXT_TOPICS, ensure_topics
from koshiqon.devtools.infra import kafka, postgres
from koshiqon.devtools.infra.instance import Instance


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    infra = subparsers.add_parser("infra", help="the local Kafka and PostgreSQL")
    actions = infra.add_subparsers(dest="action", required=True)
    which = argparse.ArgumentParser(add_help=False)
    which.add_argument(
        "--state-dir", type=Path, default=None,
        help="a private instance's state (with --base-port): not the default instance",
    )  # fmt: skip
    which.add_argument(
        "--base-port", type=int, default=None,
        help="a private instance's Kafka port; its controller +1, its PostgreSQL +2",
    )  # fmt: skip
    for name, func, text in (
        ("up", _up, "start both (a no-op when they run) and wait until ready"),
        ("down", _down, "stop both"),
        ("reset", _reset, "stop both and wipe their data"),
        ("status", _status, "say what runs"),
    ):
        actions.add_parser(name, help=text, parents=[which]).set_defaults(func=func)


def chosen(args: argparse.Namespace) -> Instance | None:
    """The private instance the arguments name, or None (the default)."""
    state, base = getattr(args, "state_dir", None), getattr(args, "base_port", None)
    if state is None or base is None:
        if state is not None or base is not None:
            raise SystemExit("koshiqon infra: --state-dir and --base-port go together")
        return None
    try:
        return Instance.of_private(state, base)
    except ValueError as error:
        raise SystemExit(f"koshiqon infra: {error}") from None


def uses_local_postgres(instance: Instance | None = None) -> bool:
    return instance is not None or "DATABASE_URL" not in os.environ


def _role_passwords() -> dict[str, str]:
    return {
        service: os.environ.get(f"{service.upper()}_DB_PASSWORD", settings.DEV_ROLE_PASSWORD)
        for service in roles.SERVICES
    }


def up(instance: Instance | None = None) -> list[str]:
    """Start what is not running; returns the names of what this call started."""
    i = instance or Instance.default()
    started: list[str] = []
    if uses_local_postgres(instance) and postgres.start(i):
        started.append("postgres")
    if kafka.running(i) is None:
        kafka.start(i)
        started.append("kafka")
    kafka.wait_ready(i)
    asyncio.run(roles.bootstrap(i.admin_dsn(), _role_passwords()))
    asyncio.run(ensure_topics(i.bootstrap, CONTEXT_TOPICS))
    return started


def down(instance: Instance | None = None) -> list[str]:
    """Stop what runs; returns the names of what this call stopped."""
    return [
        name
        for name, stop in (("kafka", kafka.stop), ("postgres", postgres.stop))
        if stop(instance)
    ]


def _up(args: argparse.Namespace) -> int:
    started = up(chosen(args))
    print("started: " + (", ".join(started) if started else "nothing (already running)"))
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = down(chosen(args))
    print("stopped: " + (", ".join(stopped) if stopped else "nothing (not running)"))
    return 0


def _reset(args: argparse.Namespace) -> int:
    _down(args)
    kafka.wipe(chosen(args))
    postgres.wipe(chosen(args))
    print("wiped: kafka data, postgres data")
    return 0


def _status(args: argparse.Namespace) -> int:
    instance = chosen(args)
    rows = {
        "kafka": kafka.running(instance),
        "postgres": postgres.running(instance)
        if uses_local_postgres(instance)
        else "external (DATABASE_URL)",
    }
    for name, pid in rows.items():
        print(f"{name}: " + ("stopped" if pid is None else f"running ({pid})"))
    return 0 if all(pid is not None for pid in rows.values()) else 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_status(argparse.Namespace()))
