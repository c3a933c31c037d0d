"""The registration worker's scheduled job: ending the temporary stays past their
valid_until, every `REGISTRATION_EXPIRY_INTERVAL_SECONDS`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from koshiqon.common.worker import Component, every
from koshiqon.registration.bus import Bus
from koshiqon.registration.config import RegistrationSettings
from koshiqon.registration.domain.commands import WORKER, ExpireTemporaryStays

log = logging.getLogger("koshiqon.registration")


class ExpiryScheduler:
    """Ends the temporary stays past their valid_until, batch by batch (one transaction
    each). Several workers may run it: rows are claimed with SKIP LOCKED and each end is
    conditional on the row still being active."""

    def __init__(
        self,
        bus: Bus,
        *,
        batch_size: int,
        today: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus = bus
        self.batch_size = batch_size
        self.today = today

    async def run_once(self) -> int:
        """Batches until one comes back short; returns how many stays ended."""
        total = 0
        while True:
            command = ExpireTemporaryStays(
                actor=WORKER, today=self.today().date(), batch_size=self.batch_size
            )
            ended = await self.bus.handle(command)
            total += ended
            if ended < self.batch_size:
                if total:
                    log.info("registration.temporary-stays-expired", extra={"count": total})
                return total


def expiry(bus: Bus, settings: RegistrationSettings) -> Component:
    """The worker's component: `run_once` at start, then every
    `REGISTRATION_EXPIRY_INTERVAL_SECONDS`."""
    scheduler = ExpiryScheduler(bus, batch_size=settings.expiry_batch_size)
    return every(settings.expiry_interval_seconds, scheduler.run_once, name="registration.expiry")
