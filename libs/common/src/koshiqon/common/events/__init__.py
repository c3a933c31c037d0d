"""Events on the wire: the CloudEvents envelope and the typed, versioned payload contracts."""

from koshiqon.common.events.contracts import (
    REGISTRY,
    EventContract,
    EventPayload,
    decode,
    event,
    make_event,
)
from koshiqon.common.events.envelope import Envelope

__all__ = [
    "REGISTRY",
    "Envelope",
    "EventContract",
    "EventPayload",
    "decode",
    "event",
    "make_event",
]
