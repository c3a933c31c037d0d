"""Periods of the indicators and of the statistical inputs: a year (`2023`), a quarter
(`2023-Q2`) or a month (`2023-05`), each a closed range of days; and the §8 rule's windows
(a calendar year, the rolling twelve months ending with the last complete month)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from koshiqon.common.errors import InvalidInput

_PERIOD = re.compile(r"^([0-9]{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$")
FIRST_YEAR, LAST_YEAR = 1990, 2100


class PeriodKind(StrEnum):
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"
    ROLLING = "rolling_12_months"  # the §8 rule's window, not an indicators period


@dataclass(frozen=True, order=True)
class Period:
    """From `start` to `end`, both included."""

    start: date
    end: date
    kind: PeriodKind
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def months(self) -> list[date]:
        """The first day of every month of the period."""
        out, month = [], self.start
        while month <= self.end:
            out.append(month)
            month = next_month(month)
        return out

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def year(y: int) -> Period:
    return Period(date(y, 1, 1), date(y, 12, 31), PeriodKind.YEAR, f"{y:04d}")


def quarter(y: int, q: int) -> Period:
    start = date(y, 3 * q - 2, 1)
    end = next_month(next_month(next_month(start))) - timedelta(days=1)
    return Period(start, end, PeriodKind.QUARTER, f"{y:04d}-Q{q}")


def month(y: int, m: int) -> Period:
    start = date(y, m, 1)
    return Period(
        start, next_month(start) - timedelta(days=1), PeriodKind.MONTH, f"{y:04d}-{m:02d}"
    )


def parse_period(text: str, *, field: str = "period") -> Period:
    """`2023`, `2023-Q2` or `2023-05`; anything else is refused naming `field`."""
    match = _PERIOD.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            "a period is a year (2023), a quarter (2023-Q2) or a month (2023-05)", field=field
        )
    y = int(match.group(1))
    if not FIRST_YEAR <= y <= LAST_YEAR:
        raise InvalidInput(f"the year must be {FIRST_YEAR}-{LAST_YEAR}", field=field)
    if match.group(2):
        return quarter(y, int(match.group(2)))
    if match.group(3):
        return month(y, int(match.group(3)))
    return year(y)


def rolling_window(today: date) -> Period:
    """The twelve complete months before `today`'s month: the §8 rule's rolling period."""
    end = month_start(today) - timedelta(days=1)
    start = date(end.year - 1, end.month, 1)
    start = next_month(start)
    return Period(start, end, PeriodKind.ROLLING, f"{start:%Y-%m}..{end:%Y-%m}")
