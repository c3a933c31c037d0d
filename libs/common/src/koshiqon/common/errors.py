"""Errors that carry domain meaning, shared by every service.

They know nothing of HTTP or Kafka: `koshiqon.common.http.problems` maps them to RFC 9457
problem+json, and the consumer runner maps them to retry or dead-letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal the domain can explain. Never retried: the same input fails the same way."""

    title: ClassVar[str] = "Request refused"
    code: ClassVar[str] = "refused"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra: dict[str, Any] = dict(extra or {})


class NotFound(DomainError):
    title = "Not found"
    code = "not-found"


class Conflict(DomainError):
    """The request contradicts the current state (duplicate, wrong status, stale version)."""

    title = "Conflict"
    code = "conflict"


class InvalidInput(DomainError):
    """Well-formed input that breaks a domain rule (a bad IIN, an unknown KATO code...)."""

    title = "Invalid input"
    code = "invalid-input"


class Unauthenticated(DomainError):
    """No credentials, or credentials that cannot be trusted (expired, badly signed)."""

    title = "Unauthenticated"
    code = "unauthenticated"

    def __init__(self, detail: str, *, credentials_sent: bool = True) -> None:
        super().__init__(detail)
        self.credentials_sent = credentials_sent


class Forbidden(DomainError):
    """Trusted credentials that do not allow this operation (scope, region)."""

    title = "Forbidden"
    code = "forbidden"


class TransientError(Exception):
    """A failure that may pass if the same operation is tried again later."""


class PermanentEventError(Exception):
    """An event that can never be handled: it goes to the dead-letter topic."""
