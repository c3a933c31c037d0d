"""The idempotent consumer: a consumer group whose every event is handled in one database
transaction together with its row in `processed_events`.

- an event id already in `processed_events` for this consumer is skipped;
- offsets are committed only after the database commit;
- transient errors (`koshiqon.common.transient`, the classifier the HTTP layer answers 503
  by, and the broker away) are retried for as long as they last, without counting as
  attempts, with
  capped exponential backoff: the failed partition is sought back to the failed offset and
  paused until its retry time, while the consumer keeps polling and handling the others (no
  sleep under the batch lock, so neither the other partitions nor a rebalance wait on it);
- permanent errors (an undecodable record, an unknown type or version, a domain refusal) and
  other errors that fail `max_attempts` times go to `<group>.dlq` with the error in headers;
- with `ConsumerConfig.transaction_batch` above 1, the records of one partition from one
  poll are handled in chunks of up to that many in one transaction (their
  `processed_events` rows in one statement, the handlers in offset order, one commit), the
  offsets committed after it; a chunk that fails in any way (an undecodable record, an
  unknown type, a handler's error) is rolled back and handled again one record per
  transaction, so retries, backoff, attempts and dead letters are those of a batch of 1;
  a subscription's `chunk_handler` may handle a chunk's events at once;
- a rebalance waits for the batch in flight and commits; `stop` finishes the batch, commits
  and closes;
- a consumer that has not joined its group `rejoin_timeout` after starting or after losing
  its partitions is closed and replaced by a new one, which rejoins and resumes from the
  committed offsets. aiokafka can stay out of its group for good after a broker restart
  (aio-libs/aiokafka#1154) while polling returns nothing and raises nothing; the
  replacement is the way out that uses public API only.
"""

from __future__ import annotations

from koshiqon.common.consumer.config import (
    AfterCommit,
    ChunkHandler,
    ConsumerConfig,
    EventHandler,
    Subscription,
)
from koshiqon.common.consumer.failures import DLQ_HEADER_PREFIX, is_permanent, is_transient
from koshiqon.common.consumer.runner import ConsumerRunner

__all__ = [
    "DLQ_HEADER_PREFIX",
    "AfterCommit",
    "ChunkHandler",
    "ConsumerConfig",
    "ConsumerRunner",
    "EventHandler",
    "Subscription",
    "is_permanent",
    "is_transient",
]
