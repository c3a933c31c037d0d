"""The in-memory unit of work both services' unit tests derive their fakes from: one
"transaction" over a state object (a dataclass of dicts), copied on entry and put back unless
committed; the events of committed work land in `published`, as the outbox would hold them,
each with its subject (the partition key)."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from koshiqon.common.events.contracts import EventPayload

S = TypeVar("S")


@dataclass(frozen=True)
class Emitted:
    payload: EventPayload
    subject: str


class FakeUnitOfWork(ABC, Generic[S]):
    """A subclass builds its fake repositories over `self.state` in `bind`."""

    def __init__(self, state: S) -> None:
        self.state = state
        self.published: list[Emitted] = []
        self.commits = 0
        self._events: list[Emitted] = []

    @abstractmethod
    def bind(self) -> None:
        """Build the fake repositories over `self.state`."""

    async def __aenter__(self) -> Self:
        self._before: Any = copy.deepcopy(self.state)
        self._events, self._committed = [], False
        self.bind()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            self.state.__dict__.update(self._before.__dict__)
        self._events = []

    def emit(self, *payloads: EventPayload, subject: object) -> None:
        self._events.extend(Emitted(payload, str(subject)) for payload in payloads)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before: Any = copy.deepcopy(self.state)
        mark = len(self._events)
        try:
            yield
        except BaseException:
            self.state.__dict__.update(before.__dict__)
            del self._events[mark:]
            raise

    async def commit(self) -> None:
        self.published += self._events
        self._events = []
        self._committed = True
        self.commits += 1

    def published_types(self) -> list[str]:
        return [e.payload.contract.type.split(".")[-2] for e in self.published]
