"""What the monitoring handlers get besides their message (`Deps`), and the type of the
service's message bus (`Bus`); apart from bootstrap.py so that handlers and routes import
them without a cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from koshiqon.common.messagebus import MessageBus
from koshiqon.monitoring.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Deps:
    """A new unit of work per call (one transaction each), and the clock. `evaluate`: whether
    projecting an event re-evaluates the §8 rule (not while a rebuild replays)."""

    uow: Callable[[], UnitOfWork]
    now: Callable[[], datetime]
    evaluate: bool = True


Bus: TypeAlias = MessageBus[Deps]
