"""What the proposals handlers get besides their message (`Deps`), and the type of the
service's message bus (`Bus`); apart from bootstrap.py so that handlers and entrypoints
import them without a cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from koshiqon.common.messagebus import MessageBus
from koshiqon.proposals.adapters.monitoring import EvidenceSource
from koshiqon.proposals.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Policy:
    """The service's deadlines (PROPOSALS_REVIEW_DEADLINE_DAYS, _STUCK_AFTER_SECONDS)."""

    review_deadline: timedelta = timedelta(days=30)
    stuck_after: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Deps:
    """A new unit of work per call, the clock, monitoring's indicators, the deadlines."""

    uow: Callable[[], UnitOfWork]
    now: Callable[[], datetime]
    evidence: EvidenceSource
    policy: Policy


Bus: TypeAlias = MessageBus[Deps]
