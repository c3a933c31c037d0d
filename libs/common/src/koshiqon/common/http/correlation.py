"""Correlation id and W3C trace context of the request being handled.

`CorrelationMiddleware` (plain ASGI) takes `X-Correlation-ID` from the request when it is
well formed (1-128 characters of ``[A-Za-z0-9._:-]``), else makes a new UUID4, and puts it
into `koshiqon.common.logs.correlation_id` for the duration of the request, so every log
line and every event the request causes carries it. The response echoes it.

The W3C `traceparent` header is parsed too. This service's work is a child span of the
caller's: the trace id and flags are kept and a new parent (span) id is made, so the events
a route writes name this request as their parent. An absent or invalid header starts a new
trace. Routes read both with `current_correlation_id()` and `current_traceparent()`.
"""

from __future__ import annotations

import contextvars
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koshiqon.common import logs
from koshiqon.common.trace import new_correlation_id, new_span_id, new_traceparent

CORRELATION_HEADER = "X-Correlation-ID"
TRACEPARENT_HEADER = "traceparent"

trace_parent: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "trace_parent", default=None
)

_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-"
    r"(?P<parent_id>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?"
)
_CORRELATION_KEY = CORRELATION_HEADER.lower().encode("latin-1")
_TRACEPARENT_KEY = TRACEPARENT_HEADER.encode("latin-1")


def valid_correlation_id(value: str | None) -> str | None:
    """`value` if it is an acceptable correlation id, else None."""
    if value is not None and _CORRELATION_ID.fullmatch(value):
        return value
    return None


def child_traceparent(incoming: str | None) -> str:
    """The `traceparent` of a span below `incoming`: same trace id and flags, a new parent
    id. A missing or invalid `incoming` (W3C Trace Context, level 1) starts a new trace."""
    match = _TRACEPARENT.fullmatch(incoming.strip().lower()) if incoming else None
    if match is None or not _usable(match):
        return new_traceparent()
    return f"00-{match['trace_id']}-{new_span_id()}-{match['flags']}"


def _usable(match: re.Match[str]) -> bool:
    version = match["version"]
    if version == "ff" or (version == "00" and match["rest"] is not None):
        return False  # ff is forbidden; version 00 has exactly four fields
    return set(match["trace_id"]) != {"0"} and set(match["parent_id"]) != {"0"}


def current_correlation_id() -> str:
    """The correlation id of the request (or event) being handled; a fresh one outside any."""
    return logs.correlation_id.get() or new_correlation_id()


def current_traceparent() -> str:
    """The `traceparent` to pass on to what this request causes; a new trace outside any."""
    return trace_parent.get() or new_traceparent()


class CorrelationMiddleware:
    """Binds the correlation id and trace context for one HTTP request (see module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming_id, incoming_trace = _read_headers(scope)
        cid = valid_correlation_id(incoming_id) or new_correlation_id()
        cid_token = logs.correlation_id.set(cid)
        trace_token = trace_parent.set(child_traceparent(incoming_trace))
        echoed = (_CORRELATION_KEY, cid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != _CORRELATION_KEY]
                message = {**message, "headers": [*headers, echoed]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            trace_parent.reset(trace_token)
            logs.correlation_id.reset(cid_token)


def _read_headers(scope: Scope) -> tuple[str | None, str | None]:
    correlation: str | None = None
    trace: str | None = None
    for name, value in scope.get("headers", ()):
        if name == _CORRELATION_KEY:
            correlation = value.decode("latin-1")
        elif name == _TRACEPARENT_KEY:
            trace = value.decode("latin-1")
    return correlation, trace
