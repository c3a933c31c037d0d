"""The proposals service's own Prometheus metrics (on /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STUCK_PROPOSALS = Gauge(
    "koshiqon_proposals_stuck",
    "Approved proposals with a quota effect and no answer from quota past "
    "PROPOSALS_STUCK_AFTER_SECONDS (set by the worker each round)",
)
APPROVALS_REPUBLISHED = Counter(
    "koshiqon_proposals_approvals_republished_total",
    "proposal-approved events the worker sent again for stuck proposals",
)
