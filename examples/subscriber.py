"""An external subscriber to Koshi-qon's resettlement events: a starting point to copy.

    python examples/subscriber.py --bootstrap-servers koshiqon-kafka-bootstrap.koshiqon.svc:9093 \
        --group external.stat-gov --security-protocol SASL_SSL --sasl-username external-subscriber \
        --sasl-password-file /run/secrets/kafka-password --ssl-cafile /run/secrets/ca.crt

It reads `registration.v1` and `quota.v1` with a consumer group of its own, and for every
resettlement event (an application requested, approved, rejected, completed or withdrawn;
persons reserved, denied, consumed, released or expired on a quota for it):

1. checks the envelope against the committed contract: the CloudEvents envelope of its type in
   `contracts/asyncapi.json`, and its `data` against `contracts/events/<topic>/<type>.json`
   (JSON Schema 2020-12, with `jsonschema`). A record that fails is printed to stderr as
   `rejected` with the reason, and skipped;
2. skips an event whose id it has handled before: delivery is at least once, so the same
   event (same `id`) can arrive twice. The ids handled are kept in a SQLite file (`--store`),
   so a restart does not handle them again;
3. prints the event to stdout, one JSON object a line;
4. commits the group's offsets after a batch is handled, so a restart resumes after it.

Events of other types on those topics are skipped without a word (a later version may add
types: a subscriber ignores what it does not know). Fields it does not know are allowed: a
version only ever gains optional fields (docs/subscribers.md, "How contracts evolve").

Here the "handling" is printing, which cannot share a transaction with the store: an event
printed just before a crash is printed again after it. A real subscriber writes what it does
with an event and the event's id in one transaction of its own database, and has no such gap.

Needs Python 3.11 and `pip install aiokafka jsonschema` (nothing from Koshi-qon itself), and
the two contract files: `--contracts` names the folder holding `asyncapi.json` and `events/`
(by default `contracts/` next to this folder, as in the repository). The Kafka options take
their defaults from the same `KAFKA_*` variables the services read. Stop it with Ctrl-C or
SIGTERM: it finishes the batch in hand, commits, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
TOPICS = ("registration.v1", "quota.v1")
# the resettlement saga's events (docs/architecture.md 4.4): the application's own, and what
# quota did for it (all keyed by the application id)
RESETTLEMENT_TYPES = (
    "kz.migration.registration.resettlement-requested.v1",
    "kz.migration.registration.resettlement-approved.v1",
    "kz.migration.registration.resettlement-rejected.v1",
    "kz.migration.registration.resettlement-completed.v1",
    "kz.migration.registration.resettlement-withdrawn.v1",
    "kz.migration.quota.quota-reserved.v1",
    "kz.migration.quota.quota-denied.v1",
    "kz.migration.quota.quota-consumed.v1",
    "kz.migration.quota.quota-released.v1",
    "kz.migration.quota.quota-expired.v1",
    "kz.migration.quota.quota-consumption-refused.v1",
)


class Rejected(Exception):
    """A record that is not a valid event of its contract."""


# --- the contracts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    envelope: Draft202012Validator
    data: Draft202012Validator


def load_contracts(folder: Path, types: Sequence[str]) -> dict[str, Contract]:
    """Validators of `types`, from `asyncapi.json` and the payload schemas it points to."""
    document = json.loads((folder / "asyncapi.json").read_text(encoding="utf-8"))
    messages = document["components"]["messages"]
    contracts = {}
    for type_ in types:
        if type_ not in messages:
            raise SystemExit(f"{type_} is not in {folder / 'asyncapi.json'}")
        envelope = json.loads(json.dumps(messages[type_]["payload"]))
        data_ref = envelope["properties"]["data"].pop("$ref")  # events/<topic>/<type>.json
        envelope["properties"]["data"]["type"] = "object"
        data = json.loads((folder / data_ref).read_text(encoding="utf-8"))
        contracts[type_] = Contract(_validator(envelope), _validator(data))
    return contracts


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(contract: Contract, event: dict[str, Any]) -> None:
    for validator, prefix in ((contract.envelope, ""), (contract.data, "data")):
        instance = event if not prefix else event["data"]
        error = next(iter(sorted(validator.iter_errors(instance), key=str)), None)
        if error is not None:
            raise Rejected(_describe(error, prefix))


def _describe(error: ValidationError, prefix: str) -> str:
    path = ".".join(str(part) for part in (prefix, *error.absolute_path) if part != "")
    return f"{path or 'envelope'}: {error.message}"


# --- the store of handled event ids -------------------------------------------------------


class Seen:
    """Event ids already handled, in a SQLite file: survives restarts."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY, type TEXT NOT NULL,"
            " handled_at TEXT NOT NULL)"
        )
        self._db.commit()

    def __contains__(self, event_id: object) -> bool:
        query = "SELECT 1 FROM handled WHERE event_id = ?"
        return self._db.execute(query, (event_id,)).fetchone() is not None

    def add(self, event_id: str, type_: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO handled VALUES (?, ?, ?)",
            (event_id, type_, datetime.now(UTC).isoformat()),
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()


# --- consuming ----------------------------------------------------------------------------


@dataclass
class Subscriber:
    contracts: dict[str, Contract]
    seen: Seen

    def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        where = f"{record.topic}/{record.partition}@{record.offset}"
        try:
            event = self._parse(record)
        except Rejected as why:
            print(f"rejected {where}: {why}", file=sys.stderr, flush=True)
            return
        if event is None:  # a type this subscriber does not follow
            return
        if event["id"] in self.seen:
            print(f"duplicate {where}: event {event['id']} was handled before", file=sys.stderr,
                  flush=True)  # fmt: skip
            return
        line = {"topic": record.topic, "partition": record.partition, "offset": record.offset,
                **{k: event[k] for k in ("id", "type", "subject", "time", "data")}}  # fmt: skip
        print(json.dumps(line, ensure_ascii=False), flush=True)
        self.seen.add(event["id"], event["type"])

    def _parse(self, record: ConsumerRecord[bytes, bytes]) -> dict[str, Any] | None:
        try:
            event = json.loads(record.value or b"")
        except ValueError as exc:
            raise Rejected(f"not JSON: {exc}") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise Rejected("not a CloudEvents envelope: no `type`")
        contract = self.contracts.get(event["type"])
        if contract is None:
            return None
        check(contract, event)
        return event


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"security_protocol": args.security_protocol}
    if args.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=args.ssl_cafile)
    if args.security_protocol.startswith("SASL_"):
        password = args.sasl_password
        if args.sasl_password_file:
            password = Path(args.sasl_password_file).read_text(encoding="utf-8").strip()
        if not (args.sasl_username and password):
            raise SystemExit(f"{args.security_protocol} needs --sasl-username and a password")
        options |= {"sasl_mechanism": args.sasl_mechanism, "sasl_plain_username":
                    args.sasl_username, "sasl_plain_password": password}  # fmt: skip
    return options


async def run(args: argparse.Namespace) -> None:
    subscriber = Subscriber(load_contracts(args.contracts, args.types), Seen(args.store))
    consumer = AIOKafkaConsumer(
        *args.topics,
        bootstrap_servers=args.bootstrap_servers,
        group_id=args.group,
        client_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset=args.offset_reset,
        isolation_level="read_committed",
        **security_options(args),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await consumer.start()
    print(f"subscribed to {', '.join(args.topics)} as group {args.group}", file=sys.stderr,
          flush=True)  # fmt: skip
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            done: dict[TopicPartition, OffsetAndMetadata] = {}
            for partition, records in batch.items():
                for record in records:
                    subscriber.handle(record)
                done[partition] = OffsetAndMetadata(records[-1].offset + 1, "")
            if done:
                await consumer.commit(done)  # after the batch is handled: at least once
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        subscriber.seen.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap-servers", default=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--group",
        default="external.example",
        help="the consumer group (the external-subscriber KafkaUser may use external.*)",
    )
    parser.add_argument("--topics", nargs="+", default=list(TOPICS))
    parser.add_argument(
        "--types",
        nargs="+",
        default=list(RESETTLEMENT_TYPES),
        help="the event types to handle (default: the resettlement saga's)",
    )
    parser.add_argument("--contracts", type=Path, default=CONTRACTS)
    parser.add_argument("--store", type=Path, default=Path("subscriber.sqlite3"))
    parser.add_argument(
        "--offset-reset",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a group with no committed offsets starts",
    )
    parser.add_argument(
        "--security-protocol",
        choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        default=env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
    )
    parser.add_argument(
        "--sasl-mechanism",
        choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
        default=env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
    )
    parser.add_argument("--sasl-username", default=env("KAFKA_SASL_USERNAME"))
    parser.add_argument(
        "--sasl-password",
        default=env("KAFKA_SASL_PASSWORD"),
        help="better: --sasl-password-file or KAFKA_SASL_PASSWORD (not in the process list)",
    )
    parser.add_argument("--sasl-password-file")
    parser.add_argument(
        "--ssl-cafile", default=env("KAFKA_SSL_CAFILE"), help="the cluster CA (ca.crt)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
