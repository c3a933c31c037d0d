"""A figure and where it comes from: a value with its sources (statistics: dataset, source
and date; events: the projection and its latest event's time), or no value and the reason.
A figure computed from others has their sources, and no value when any input has none:
a missing input is never a zero."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Source:
    kind: str  # statistics | events | reference
    name: str  # the dataset, the projection, or the reference table
    source: str | None = None  # who published the statistic
    period_from: date | None = None
    period_to: date | None = None
    latest_event_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.source is not None:
            out["source"] = self.source
        if self.period_from is not None:
            out["date" if self.period_from == self.period_to else "period_from"] = (
                self.period_from.isoformat()
            )
            if self.period_to is not None and self.period_to != self.period_from:
                out["period_to"] = self.period_to.isoformat()
        if self.kind == "events":
            latest = self.latest_event_at
            out["latest_event_at"] = None if latest is None else latest.isoformat()
        return out


@dataclass(frozen=True)
class Fig:
    value: Any
    sources: tuple[Source, ...] = ()
    reason: str | None = None

    @property
    def known(self) -> bool:
        return self.value is not None

    def as_dict(self, digits: int | None = None) -> dict[str, Any]:
        value = self.value
        if digits is not None and isinstance(value, float):
            value = round(value, digits)
        return {
            "value": value,
            "sources": [s.as_dict() for s in _unique(self.sources)],
            "reason": self.reason,
        }


def missing(reason: str, *sources: Source) -> Fig:
    return Fig(None, tuple(sources), reason)


def derive(fn: Callable[..., Any], *inputs: Fig) -> Fig:
    """`fn` of the inputs' values, with all their sources; no value (the first missing
    input's reason) when any input has none, or when `fn` has none (a zero divisor)."""
    sources = tuple(s for f in inputs for s in f.sources)
    for f in inputs:
        if not f.known:
            return Fig(None, sources, f.reason)
    value = fn(*(f.value for f in inputs))
    if value is None:
        return Fig(None, sources, "the divisor is zero")
    return Fig(value, sources)


def per_thousand(numerator: float, population: float) -> float | None:
    return None if population == 0 else 1000.0 * numerator / population


def percent(part: float, whole: float) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def ratio(part: float, whole: float) -> float | None:
    return None if whole == 0 else part / whole


def total(figs: Sequence[Fig], what: str) -> Fig:
    """The sum of `figs` (the regions' figures), or none naming how many are missing."""
    absent = [f for f in figs if not f.known]
    sources = tuple(s for f in figs for s in f.sources)
    if not figs:
        return missing(f"no {what}")
    if absent:
        return Fig(None, sources, f"{what} missing for {len(absent)} region(s)")
    return Fig(sum(f.value for f in figs), sources)


def _unique(sources: Sequence[Source]) -> list[Source]:
    seen: list[Source] = []
    for s in sources:
        if s not in seen:
            seen.append(s)
    return seen


@dataclass
class Indicators:
    """The indicators of one territory for one period, by name."""

    figures: dict[str, Fig] = field(default_factory=dict)
    quotas: dict[str, dict[str, Fig]] = field(default_factory=dict)
