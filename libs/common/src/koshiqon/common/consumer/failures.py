"""How the consumer runner tells a failure to retry from one to dead-letter, and what a
dead letter carries in its headers."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from koshiqon.common.errors import DomainError, PermanentEventError
from koshiqon.common.logs import safe_error_text
from koshiqon.common.transient import is_transient as shared_is_transient

DLQ_HEADER_PREFIX = "dlq."


class Retry(Exception):
    """The record must be handled again, `delay` seconds from now."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


def is_transient(exc: BaseException) -> bool:
    """The shared classifier (`koshiqon.common.transient`), and the broker away."""
    return isinstance(exc, KafkaError) or shared_is_transient(exc)


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PermanentEventError | DomainError)


def error_headers(
    group: str, record: ConsumerRecord[bytes, bytes], exc: Exception
) -> dict[str, str]:
    return {
        "original.topic": record.topic,
        "original.partition": str(record.partition),
        "original.offset": str(record.offset),
        "group": group,
        "error.type": type(exc).__name__,
        "error.message": safe_error_text(exc)[:1000],  # no database values (item 20)
        "failed-at": datetime.now(UTC).isoformat(),
    }
