"""`koshiqon token`: issue a bearer token signed with the development key."""

from __future__ import annotations

import argparse
import sys

from koshiqon.common.auth.principal import region_code
from koshiqon.common.errors import InvalidInput
from koshiqon.common.settings import DEFAULT_MAX_TOKEN_LIFETIME
from koshiqon.devtools.devkey import issue_dev_token

USAGE_ERROR = 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = subparsers.add_parser(
        "token",
        help="issue a development bearer token",
        description="Print a bearer token signed with the development key "
        "(.local/keys/dev-signing-key.pem, created on first use).",
    )
    token.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        required=True,
        metavar="SCOPE",
        help="a scope to grant, e.g. registration:read; repeat for more",
    )
    where = token.add_mutually_exclusive_group()
    where.add_argument("--region", metavar="KATO", help="limit to one region (AB0000000)")
    where.add_argument(
        "--nationwide",
        action="store_true",
        help='nationwide access (the region claim "*"); the default without --region',
    )
    token.add_argument("--agency", metavar="NAME", help="the calling agency")
    token.add_argument(
        "--ttl",
        type=int,
        default=DEFAULT_MAX_TOKEN_LIFETIME,
        metavar="SECONDS",
        help=f"lifetime, at most {DEFAULT_MAX_TOKEN_LIFETIME} (the services' maximum)",
    )
    token.add_argument("--subject", default="dev-cli", metavar="SUB", help="the sub claim")
    token.set_defaults(func=run_token)


def run_token(args: argparse.Namespace) -> int:
    """Print the token alone on stdout; a usage error goes to stderr with exit code 2."""
    try:
        region = None if args.region is None else region_code(args.region)
    except InvalidInput as error:
        return _usage_error(f"--region {args.region!r}: {error.detail}")
    if args.ttl <= 0:
        return _usage_error("--ttl must be a positive number of seconds")
    if args.ttl > DEFAULT_MAX_TOKEN_LIFETIME:
        return _usage_error(
            f"--ttl must be at most {DEFAULT_MAX_TOKEN_LIFETIME} seconds"
            " (the services refuse a token living longer)"
        )
    try:
        token = issue_dev_token(
            scopes=args.scopes,
            region=region,
            agency=args.agency,
            subject=args.subject,
            ttl_seconds=args.ttl,
        )
    except ValueError as error:
        return _usage_error(str(error))
    print(token)
    return 0


def _usage_error(message: str) -> int:
    print(f"koshiqon token: {message}", file=sys.stderr)
    return USAGE_ERROR
