"""The monitoring worker's scheduled job: the §8 rule for every region, every
`MONITORING_ALERT_INTERVAL_SECONDS` (the rolling twelve months move with the calendar, and
no event need arrive for an alert to clear)."""

from __future__ import annotations

import logging

from koshiqon.common.worker import Component, every
from koshiqon.monitoring.bus import Bus
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain.commands import WORKER, EvaluateOutflow

log = logging.getLogger("koshiqon.monitoring")


class OutflowScheduler:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def run_once(self) -> int:
        changed = await self.bus.handle(EvaluateOutflow(actor=WORKER))
        if changed:
            log.info("monitoring.alerts-changed", extra={"count": changed})
        return changed


def outflow_rule(bus: Bus, settings: MonitoringSettings) -> Component:
    scheduler = OutflowScheduler(bus)
    return every(settings.alert_interval_seconds, scheduler.run_once, name="monitoring.outflow")
