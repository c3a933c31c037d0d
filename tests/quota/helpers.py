"""Helpers of the quota service's tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from koshiqon.common.messagebus import Actor
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.model import TerritoryKind

ALL_SCOPES = ("quota:read", "quota:admin", "quota:reserve")
PAVLODAR, NORTH_KAZ, ALMATY_CITY = "550000000", "590000000", "750000000"
ACTOR = Actor(subject="test")  # a nationwide caller, as the ministry's tokens are


@dataclass
class Clock:
    """The service's clock in tests: it only moves when the test moves it."""

    now: datetime = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def token(*scopes: str, region: str | None = None) -> dict[str, str]:
    bearer = issue_dev_token(scopes=scopes or ALL_SCOPES, region=region, subject="test")
    return {"Authorization": f"Bearer {bearer}"}


async def designate(bus: Bus, kato: str, kind: TerritoryKind, *, on: date | None = None) -> None:
    await bus.handle(
        c.DesignateTerritory(
            kato=kato,
            kind=kind,
            effective_from=on or date(2026, 1, 1),
            decision="Decree 1",
            actor=ACTOR,
        )
    )
