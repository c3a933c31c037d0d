"""The `koshiqon` console script: `token`, `dlq replay`, `outbox parked`,
`infra up|down|reset|status`, `stack up|down|status|logs|tokens`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from koshiqon.common import dlq, outbox
from koshiqon.devtools import token as auth_cli
from koshiqon.devtools.infra import cli as infra_cli
from koshiqon.devtools.stack import cli as stack_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="koshiqon", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    auth_cli.add_parser(subparsers)
    dlq.add_parser(subparsers)
    outbox.add_parser(subparsers)
    infra_cli.add_parser(subparsers)
    stack_cli.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
