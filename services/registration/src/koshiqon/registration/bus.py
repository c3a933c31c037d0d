"""The registration bus's dependencies (`Deps`) and its type (`Bus`), apart from the wiring
(`bootstrap`), so that handlers, routes and the composition root all import them without a
cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeAlias

from koshiqon.common.messagebus import MessageBus
from koshiqon.registration.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    """What handlers need from outside: units of work, the clock, the correlation id."""

    uow: Callable[[], UnitOfWork]
    now: Callable[[], datetime] = field(default=utc_now)
    correlation_id: Callable[[], str | None] = field(default=lambda: None)


Bus: TypeAlias = MessageBus[Deps]
