"""What a reservation may announce, prepared before the statement that decides it: the
events of each outcome with the figures only that statement knows left for it to fill
(adapters/repository/ledger.py `reserve`), so that the quota row's lock is held for that one
statement (docs/architecture.md, 4.1)."""

from __future__ import annotations

from dataclasses import dataclass

from koshiqon.common.events import quota as wire

# the fields of each event that the reserving statement fills in
RESERVED_FILLED = ("remaining",)
EXHAUSTED_FILLED = ("remaining",)
THRESHOLD_FILLED = ("limit", "reserved", "consumed")


@dataclass(frozen=True)
class Outcomes:
    """quota-reserved (its `remaining` filled), quota-denied as exhausted (its `remaining`
    filled), and the 90 % and 100 % threshold events (their `limit`, `reserved` and
    `consumed` filled), of which the statement publishes those that happen."""

    reserved: wire.QuotaReserved
    exhausted: wire.QuotaDenied
    thresholds: tuple[wire.QuotaThresholdReached, ...]
