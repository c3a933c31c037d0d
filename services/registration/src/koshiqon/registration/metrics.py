"""The registration service's own Prometheus counters (on /metrics beside libs/common's)."""

from __future__ import annotations

from prometheus_client import Counter

QUOTA_REQUESTED_AGAIN = Counter(
    "koshiqon_registration_quota_requested_again_total",
    "resettlement-requested events published again for applications left pending_quota",
)
QUOTA_OUTCOMES_IGNORED = Counter(
    "koshiqon_registration_quota_outcomes_ignored_total",
    "quota.v1 outcomes for applications registration never requested (reservations made over"
    " the quota API, foreign labour), by event name: ignored, not dead-lettered",
    ["event"],
)
QUOTA_CONSUMPTION_REFUSED = Counter(
    "koshiqon_registration_quota_consumption_refused_total",
    "completed applications whose reservation the quota service could not consume (it had"
    " expired, been released or never been made), by the reservation's status",
    ["status"],
)
