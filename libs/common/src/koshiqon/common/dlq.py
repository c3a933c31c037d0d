"""`koshiqon dlq replay`: send dead-lettered records back to the topic they came from."""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from koshiqon.common.consumer import DLQ_HEADER_PREFIX
from koshiqon.common.kafka import new_producer, security_settings
from koshiqon.common.settings import DEFAULT_KAFKA_BOOTSTRAP
from koshiqon.common.topics import dlq_topic, topic_exists


class NoDeadLetters(Exception):
    """The group never dead-lettered anything (its DLQ topic does not exist)."""


@dataclass(frozen=True)
class ReplayResult:
    replayed: int
    skipped: int


async def replay(bootstrap: str, group: str, *, limit: int | None = None) -> ReplayResult:
    """Replay the records of `<group>.dlq` that no earlier replay sent, up to the end of the
    topic as it is now. Progress is the offset of the group `<group>.dlq-replay`, committed
    after the broker acknowledged each re-sent batch, so a replay can be repeated safely."""
    topic = dlq_topic(group).name
    if not await topic_exists(bootstrap, topic):
        raise NoDeadLetters(f"group {group!r} has no dead-letter topic {topic!r}")
    consumer = AIOKafkaConsumer(
        **security_settings(),
        bootstrap_servers=bootstrap,
        group_id=f"{group}.dlq-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = new_producer(bootstrap, client_id=f"{group}-dlq-replay")
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.start()
    await producer.start()
    replayed = skipped = 0
    try:
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end and (limit is None or replayed < limit):
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=500)
            sent = []
            last = -1
            for record in batch.get(tp, []):
                if record.offset >= end or (limit is not None and replayed >= limit):
                    break
                headers = dict(record.headers or ())
                original = headers.get(DLQ_HEADER_PREFIX + "original.topic")
                if original is None:
                    skipped += 1
                else:
                    kept = [
                        (k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIX)
                    ]
                    sent.append(
                        await producer.send(
                            original.decode(), record.value, key=record.key, headers=kept
                        )
                    )
                    replayed += 1
                last = record.offset
            if sent:
                await asyncio.gather(*sent)
            if last >= 0:
                await consumer.commit({tp: last + 1})
    finally:
        await consumer.stop()
        await producer.stop()
    return ReplayResult(replayed=replayed, skipped=skipped)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = subparsers.add_parser("dlq", help="dead-letter topics")
    actions = dlq.add_subparsers(dest="action", required=True)
    replay_cmd = actions.add_parser("replay", help="send a group's dead letters back")
    replay_cmd.add_argument("--group", required=True, help="the consumer group, e.g. quota")
    replay_cmd.add_argument("--limit", type=int, default=None, help="replay at most N records")
    replay_cmd.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA_BOOTSTRAP),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or %(default)s)",
    )
    replay_cmd.set_defaults(func=_replay)


def _replay(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(replay(args.bootstrap, args.group, limit=args.limit))
    except NoDeadLetters as exc:
        print(f"nothing to replay: {exc}")
        return 0
    print(f"replayed {result.replayed} record(s), skipped {result.skipped} without origin")
    return 0
