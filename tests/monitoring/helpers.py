"""Helpers of the monitoring service's tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from koshiqon.devtools.devkey import issue_dev_token

ALL_SCOPES = ("monitoring:read", "monitoring:write")
NORTH_KAZ, PAVLODAR, ASTANA, ABAI = "590000000", "550000000", "710000000", "100000000"
NATIONAL = "000000000"


@dataclass
class Clock:
    """The service's clock in tests: it only moves when the test moves it."""

    now: datetime = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def token(*scopes: str, region: str | None = None) -> dict[str, str]:
    bearer = issue_dev_token(scopes=scopes or ALL_SCOPES, region=region, subject="test")
    return {"Authorization": f"Bearer {bearer}"}


CSV = {"content-type": "text/csv"}
