"""The registration worker's scheduled jobs: ending the temporary stays past their
valid_until, every `REGISTRATION_EXPIRY_INTERVAL_SECONDS`; asking the quota service again
for applications left pending_quota, every `REGISTRATION_PENDING_QUOTA_INTERVAL_SECONDS`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from koshiqon.common.kz import kz_today
from koshiqon.common.worker import Component, every
from koshiqon.registration.bus import Bus
from koshiqon.registration.config import RegistrationSettings
from koshiqon.registration.domain.commands import WORKER, ExpireTemporaryStays, RequestQuotaAgain

log = logging.getLogger("koshiqon.registration")


class ExpiryScheduler:
    """Ends the temporary stays past their valid_until, batch by batch (one transaction
    each). Several workers may run it: rows are claimed with SKIP LOCKED and each end is
    conditional on the row still being active. The day is Kazakhstan's (`kz_today`) on the
    bus's clock, or on `now` when given."""

    def __init__(
        self, bus: Bus, *, batch_size: int, now: Callable[[], datetime] | None = None
    ) -> None:
        self.bus = bus
        self.batch_size = batch_size
        self.now = now or bus.deps.now

    async def run_once(self) -> int:
        """Batches until one comes back short; returns how many stays ended."""
        total = 0
        while True:
            command = ExpireTemporaryStays(
                actor=WORKER, today=kz_today(self.now()), batch_size=self.batch_size
            )
            ended = await self.bus.handle(command)
            total += ended
            if ended < self.batch_size:
                if total:
                    log.info("registration.temporary-stays-expired", extra={"count": total})
                return total


class PendingQuotaScheduler:
    """Asks the quota service again for the applications still pending_quota whose quota was
    last asked `pending_for` ago or more: at most `batch_size` a run (one transaction), the
    oldest first, each asked again after `pending_for` for as long as it stays pending.
    Several workers may run it (SKIP LOCKED)."""

    def __init__(self, bus: Bus, *, pending_for: timedelta, batch_size: int) -> None:
        self.bus = bus
        self.pending_for = pending_for
        self.batch_size = batch_size

    async def run_once(self) -> int:
        """One bounded batch; returns how many applications were asked again."""
        command = RequestQuotaAgain(
            actor=WORKER, pending_for=self.pending_for, limit=self.batch_size
        )
        asked = await self.bus.handle(command)
        if asked:
            log.info("registration.quota-requested-again", extra={"count": asked})
        return asked


def expiry(bus: Bus, settings: RegistrationSettings) -> Component:
    """The worker's component: `run_once` at start, then every
    `REGISTRATION_EXPIRY_INTERVAL_SECONDS`."""
    scheduler = ExpiryScheduler(bus, batch_size=settings.expiry_batch_size)
    return every(settings.expiry_interval_seconds, scheduler.run_once, name="registration.expiry")


def pending_quota(bus: Bus, settings: RegistrationSettings) -> Component:
    """The worker's component: `run_once` at start, then every
    `REGISTRATION_PENDING_QUOTA_INTERVAL_SECONDS`."""
    scheduler = PendingQuotaScheduler(
        bus,
        pending_for=timedelta(seconds=settings.pending_quota_after_seconds),
        batch_size=settings.pending_quota_batch_size,
    )
    return every(
        settings.pending_quota_interval_seconds,
        scheduler.run_once,
        name="registration.pending-quota",
    )
