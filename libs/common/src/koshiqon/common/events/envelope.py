"""The CloudEvents 1.0 envelope (JSON structured mode) every Koshi-qon event travels in.

docs/architecture.md §3: `id`, `source`, `type`, `specversion`, `time`, `subject`,
`datacontenttype`, `data`, plus the extension attributes `correlationid` and `traceparent`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from koshiqon.common.errors import PermanentEventError
from koshiqon.common.trace import new_traceparent

TYPE_PATTERN = re.compile(r"^kz\.migration\.[a-z]+\.[a-z0-9-]+\.v[0-9]+$")
TRACEPARENT_PATTERN = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


class Envelope(BaseModel):
    """One event on the wire. `data` is the payload already dumped to JSON-able values."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    source: str
    type: str
    specversion: str = "1.0"
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    datacontenttype: str = "application/json"
    correlationid: str
    traceparent: str = Field(default_factory=new_traceparent)
    data: dict[str, Any]

    @field_validator("type")
    @classmethod
    def _versioned_type(cls, value: str) -> str:
        if not TYPE_PATTERN.match(value):
            raise ValueError("type must look like kz.migration.<context>.<event>.v<N>")
        return value

    @field_validator("traceparent")
    @classmethod
    def _w3c_traceparent(cls, value: str) -> str:
        if not TRACEPARENT_PATTERN.match(value):
            raise ValueError("traceparent must be a W3C trace context version 00")
        return value

    @property
    def context(self) -> str:
        """The publishing context: `registration` in `kz.migration.registration.x.v1`."""
        return self.type.split(".")[2]

    @property
    def name(self) -> str:
        """The event name without context and version: `person-moved`."""
        return self.type.split(".")[3]

    @property
    def version(self) -> int:
        return int(self.type.rsplit(".v", 1)[1])

    def to_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Envelope:
        """Parse a record value; anything that is not a valid envelope is permanent."""
        if raw is None:
            raise PermanentEventError("record has no value")
        try:
            return cls.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise PermanentEventError(f"undecodable envelope: {exc}") from exc
