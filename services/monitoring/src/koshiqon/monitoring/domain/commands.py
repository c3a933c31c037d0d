"""The monitoring service's use cases, one frozen dataclass each (`bus.handle` is typed by
the result)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from koshiqon.common.messagebus import Actor, Command
from koshiqon.monitoring.domain.statistics import Dataset, Value

WORKER = Actor(subject="monitoring-worker")


class Existing(StrEnum):
    """What an import does with a key that already has different figures."""

    REFUSE = "refuse"  # 409, nothing imported (the API's default)
    REPLACE = "replace"  # the earlier figures go to the history (replace=true)
    KEEP = "keep"  # the figures loaded are kept (load-reference's superseded files)


@dataclass(frozen=True)
class ImportResult:
    dataset: Dataset
    added: int
    replaced: int
    unchanged: int
    kept: int


@dataclass(frozen=True, kw_only=True)
class ImportStatistics(Command[ImportResult]):
    """A whole file: one transaction, every row checked first."""

    dataset: Dataset
    rows: Sequence[tuple[int, Mapping[str, Value]]]
    source: str
    existing: Existing = Existing.REFUSE


@dataclass(frozen=True, kw_only=True)
class EvaluateOutflow(Command[int]):
    """The §8 rule for every region over the rolling twelve months and each year with
    figures; returns how many alerts were raised or cleared."""
