"""The quota worker's scheduled job: expiring the reservations of quotas whose period has
ended, every `QUOTA_EXPIRY_INTERVAL_SECONDS`."""

from __future__ import annotations

import logging

from koshiqon.common import kz
from koshiqon.common.worker import Component, every
from koshiqon.quota.bus import Bus
from koshiqon.quota.config import QuotaSettings
from koshiqon.quota.domain.commands import WORKER, ExpireReservations

log = logging.getLogger("koshiqon.quota")


class ExpiryScheduler:
    """Expires, by the bus's clock's day in Kazakhstan (`kz.kz_today`: a period ends at
    midnight in Kazakhstan, not UTC), the reservations of quotas whose period ended (one
    transaction; each reservation changes state once, so several workers may run it)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def run_once(self) -> int:
        """One round; returns how many reservations expired."""
        today = kz.kz_today(self.bus.deps.now())
        expired = await self.bus.handle(ExpireReservations(today, actor=WORKER))
        if expired:
            log.info("quota.reservations-expired", extra={"count": expired})
        return expired


def expiry(bus: Bus, settings: QuotaSettings) -> Component:
    """The worker's component: `run_once` at start, then every
    `QUOTA_EXPIRY_INTERVAL_SECONDS`."""
    scheduler = ExpiryScheduler(bus)
    return every(settings.expiry_interval_seconds, scheduler.run_once, name="quota.expiry")
