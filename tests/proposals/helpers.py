"""Helpers of the proposals service's tests: tokens, a clock the test moves, request bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from koshiqon.devtools.devkey import issue_dev_token

PAVLODAR, NORTH_KAZ, ALMATY_CITY = "550000000", "590000000", "750000000"
PAVLODAR_DISTRICT = "551010000"  # a code within Pavlodar region
NORTH_KAZ_DISTRICT = "591010000"
FILE = ("proposals:file", "proposals:read")
DECIDE = ("proposals:decide", "proposals:read")
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    """The service's clock in tests: it only moves when the test moves it."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@cache  # a signature per distinct token, not per request: tests ask for the same ones
def bearer(*scopes: str, region: str | None = None, subject: str = "test") -> dict[str, str]:
    token = issue_dev_token(scopes=scopes, region=region, subject=subject, agency="test-agency")
    return {"Authorization": f"Bearer {token}"}


def akimat(region: str = PAVLODAR, *scopes: str) -> dict[str, str]:
    """An akimat's token: limited to its region."""
    return bearer(*(scopes or FILE), region=region, subject=f"akimat-{region}")


def ministry(*scopes: str) -> dict[str, str]:
    """The authorized migration body's token: nationwide."""
    return bearer(*(scopes or DECIDE), subject="ministry")


DOCUMENTS = [{"number": "12-3/45", "date": "2026-02-10", "title": "Labour market survey"}]


def regional_quota(
    delta: int = 50, *, region: str = PAVLODAR, kind: str = "kandas", horizon: Any = None
) -> dict[str, Any]:
    return {
        "type": "regional_quota_change",
        "region": region,
        "justification": "More vacancies in agriculture than job seekers",
        "documents": DOCUMENTS,
        "payload": {"kind": kind, "delta": delta, "horizon": horizon or {"year": 2027}},
    }


def labour_quota(delta: int = 20, *, region: str = PAVLODAR, year: int = 2026) -> dict[str, Any]:
    return {
        "type": "foreign_labour_quota_change",
        "region": region,
        "justification": "A new plant needs specialists",
        "documents": DOCUMENTS,
        "payload": {"category": "3", "delta": delta, "year": year},
    }


def territory(
    type_: str = "territory_assignment", *, region: str = PAVLODAR, kato: str = PAVLODAR_DISTRICT
) -> dict[str, Any]:
    return {
        "type": type_,
        "region": region,
        "justification": "Housing and jobs are available in the district",
        "documents": DOCUMENTS,
        "payload": {"kind": "kandas", "kato": kato, "effective_date": "2026-06-01"},
    }


def measures(region: str = PAVLODAR) -> dict[str, Any]:
    checklist = [
        {"measure": "attract_qualified_labour", "plan": "Relocation grants", "done": False},
        {"measure": "social_adaptation", "plan": "", "done": False},
        {"measure": "vocational_training", "plan": "Retraining for young kandases", "done": False},
    ]
    return {
        "type": "measures",
        "region": region,
        "justification": "Outflow exceeds reproduction",
        "documents": [],
        "payload": {"checklist": checklist},
    }
