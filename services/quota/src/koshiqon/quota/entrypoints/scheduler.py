"""The quota worker's scheduled job: expiring the reservations of quotas whose period has
ended, every `QUOTA_EXPIRY_INTERVAL_SECONDS`."""

from __future__ import annotations

import logging

from koshiqon.common.worker import Component, every
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain.commands import WORKER, ExpireReservations

log = logging.getLogger("koshiqon.quota")


class ExpiryScheduler:
    """Expires, by the bus's clock's date, the reservations of quotas whose period ended."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def tick(self) -> int:
        """One round; how many reservations expired."""
        today = self.bus.deps.now().date()
        expired = await self.bus.handle(ExpireReservations(today, actor=WORKER))
        if expired:
            log.info("quota.reservations-expired", extra={"count": expired})
        return expired

    def every(self, seconds: float) -> Component:
        """The worker component running `tick` every `seconds`."""
        return every(seconds, self.tick, name="quota.expiry")
