"""The registration service's subscription: the quota service's outcomes for resettlement
applications (quota.v1). Each event is handled once (the runner records it in
`processed_events` in the same transaction); the handlers use the runner's session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from koshiqon.common.consumer import EventHandler, Subscription
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.registration.handlers import EVENT_HANDLERS
from koshiqon.registration.unit_of_work import SqlUnitOfWork

GROUP = "registration"
TOPICS = ("quota.v1",)


def _adapt(payload_type: type[EventPayload]) -> EventHandler:
    handle = EVENT_HANDLERS[payload_type]

    async def handler(session: AsyncSession, envelope: Envelope, payload: EventPayload) -> None:
        await handle(SqlUnitOfWork(session=session), payload)

    return handler


def subscription(group: str = GROUP, topics: tuple[str, ...] = TOPICS) -> Subscription:
    handlers = {t.contract.type: _adapt(t) for t in EVENT_HANDLERS}
    return Subscription(group=group, topics=list(topics), handlers=handlers)


__all__: list[str] = ["GROUP", "TOPICS", "subscription"]
