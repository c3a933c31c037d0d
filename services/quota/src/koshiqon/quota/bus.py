"""What the quota handlers get besides their message (`Deps`), and the type of the service's
message bus (`Bus`). Apart from bootstrap.py, which wires them, so that the handlers and
the entrypoints import them without a cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from koshiqon.common.messagebus import MessageBus
from koshiqon.quota.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Deps:
    """A new unit of work per call (one transaction each), and the clock."""

    uow: Callable[[], UnitOfWork]
    now: Callable[[], datetime]


Bus: TypeAlias = MessageBus[Deps]
