"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUEST_SECONDS = Histogram(
    "koshiqon_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OUTBOX_UNPUBLISHED = Gauge(
    "koshiqon_outbox_unpublished_events", "Events in the outbox not yet acknowledged by Kafka",
    ["service"],
)  # fmt: skip
OUTBOX_OLDEST_AGE = Gauge(
    "koshiqon_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox event (0 when none)",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "koshiqon_outbox_published_events_total", "Events the relay published", ["service"]
)
OUTBOX_PARKED = Counter(
    "koshiqon_outbox_parked_total",
    "Outbox rows the relay gave up on after max_attempts (listed by `koshiqon outbox parked`)",
    ["service"],
)
OUTBOX_RELAY_ACTIVE = Gauge(
    "koshiqon_outbox_relay_active", "1 while this process holds the relay lock", ["service"]
)
CONSUMER_LAG = Gauge(
    "koshiqon_consumer_lag_records",
    "Records between the group's position and the partition end",
    ["group", "topic", "partition"],
)
CONSUMER_EVENTS = Counter(
    "koshiqon_consumer_events_total",
    "Events seen by a consumer, by outcome (handled, duplicate, ignored, retried, dead-lettered)",
    ["group", "outcome"],
)
CONSUMER_REPLACED = Counter(
    "koshiqon_consumer_replaced_total",
    "Consumers closed and replaced for having stayed out of their group past rejoin_timeout",
    ["group"],
)
IDEMPOTENT_REQUESTS = Counter(
    "koshiqon_idempotent_requests_total",
    "POSTs under an Idempotency-Key by outcome: stored (run, its response kept), replayed,"
    " released (run, nothing kept), rolled-back (its effect undone with a failure),"
    " commit-failed, mismatch, in-flight, response-lost, abandoned (the client left mid-body)",
    ["outcome"],
)
DLQ_EVENTS = Counter("koshiqon_dlq_events_total", "Events sent to a dead-letter topic", ["group"])
DB_POOL_CONNECTIONS = Gauge(
    "koshiqon_db_pool_connections",
    "Connections of a driver-level pool (koshiqon.common.database) by state: open, idle, max",
    ["pool", "state"],
)
DB_POOL_WAIT_SECONDS = Histogram(
    "koshiqon_db_pool_wait_seconds",
    "Time a unit of work waited for a pooled connection (a saturated pool shows here first)",
    ["pool"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
