"""The quota service's own Prometheus counters (on /metrics beside libs/common's)."""

from __future__ import annotations

from prometheus_client import Counter

CONSUMPTION_REFUSED = Counter(
    "koshiqon_quota_consumption_refused_total",
    "completions whose reservation was no longer held (expired, released, denied, withdrawn):"
    " nothing consumed, quota-consumption-refused published; by the reservation's status",
    ["status"],
)
