"""The message bus every service uses: commands (and consumed events) in, their handler called.

A handler is `async def verb_noun(message, deps)`: the message (a `Command`, or a consumed
event's payload) and the service's own dependencies (its units of work, its clock...). Each
service lists its handlers in routing tables at the foot of its handlers module and wires
the bus in its bootstrap; routes call `bus.handle(command)`, the worker's consumers call the
same handlers through `subscription`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from koshiqon.common.consumer import ChunkHandler, EventHandler, Subscription
from koshiqon.common.errors import Forbidden
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.http.correlation import child_traceparent

R = TypeVar("R", covariant=True)
D = TypeVar("D")

Handler = Callable[[Any, D], Awaitable[Any]]


class OutsideRegion(Forbidden):
    """An akimat's token acting on another region."""

    code = "outside-region"

    def __init__(self, region: str, *, field: str) -> None:
        super().__init__(
            f"the token is limited to region {region}; {field} is outside it", field=field
        )


@dataclass(frozen=True)
class Actor:
    """Who asks: a verified caller as the domain sees it. `region` is a region's own KATO code
    for an akimat, None for a nationwide caller (the ministry, other agencies, a worker)."""

    subject: str
    agency: str | None = None
    region: str | None = None

    def may_act_in(self, region: str) -> bool:
        return self.region is None or self.region == region

    def require_region(self, region: str, *, field: str) -> None:
        if not self.may_act_in(region):
            raise OutsideRegion(str(self.region), field=field)


@dataclass(frozen=True, kw_only=True)
class Command(Generic[R]):
    """What a caller asks of a service; `R` is what its handler returns. Every command carries
    the actor who asks (region limits, audit, history need it)."""

    actor: Actor


class MessageBus(Generic[D]):
    """Routes a command to its handler with the service's dependencies."""

    def __init__(self, deps: D, *, commands: Mapping[type[Any], Handler[D]]) -> None:
        self.deps = deps
        self._commands = commands

    async def handle(self, command: Command[R]) -> R:
        handler = self._commands.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for {type(command).__name__}")
        result: R = await handler(command, self.deps)
        return result


def subscription(
    *,
    group: str,
    topics: Sequence[str],
    handlers: Mapping[type[EventPayload], Handler[D]],
    deps: Callable[[AsyncConnection, str], D],
    chunk: Callable[[Sequence[EventPayload], D], Awaitable[Any]] | None = None,
) -> Subscription:
    """A consumer group's subscription: each event type's handler called with the service's
    dependencies built by `deps(connection, traceparent)` over the consumer runner's
    transaction (which records the event in `processed_events` and commits), and the
    trace context continued from the event's. `chunk`, when given, is called with a chunk's
    payloads in order (`ConsumerConfig.transaction_batch`; the trace context of its last
    event) and must leave the database as the handlers one after the other would."""
    return Subscription(
        group=group,
        topics=list(topics),
        handlers={payload.contract.type: _on_event(h, deps) for payload, h in handlers.items()},
        chunk_handler=None if chunk is None else _on_chunk(chunk, deps),
    )


def _on_event(handler: Handler[D], deps: Callable[[AsyncConnection, str], D]) -> EventHandler:
    async def on_event(session: AsyncSession, envelope: Envelope, payload: EventPayload) -> None:
        connection = await session.connection()
        await handler(payload, deps(connection, child_traceparent(envelope.traceparent)))

    return on_event


def _on_chunk(
    handler: Callable[[Sequence[EventPayload], D], Awaitable[Any]],
    deps: Callable[[AsyncConnection, str], D],
) -> ChunkHandler:
    async def on_chunk(
        session: AsyncSession, events: Sequence[tuple[Envelope, EventPayload]]
    ) -> None:
        connection = await session.connection()
        traceparent = child_traceparent(events[-1][0].traceparent)
        await handler([payload for _, payload in events], deps(connection, traceparent))

    return on_chunk
