"""A request body larger than a service accepts gets 413 problem+json, not memory.

Neither uvicorn nor FastAPI bounds a request body by default: a client could make the
service hold gigabytes before anything validates them. `BodyLimit` (plain ASGI) refuses:
- a declared `Content-Length` above the limit at once, before a byte of the body is read;
- a body sent without a length (chunked) as soon as what has arrived passes the limit.

A body with a `Content-Length` within the limit cannot grow past it (the server reads that
many bytes), so such a request, nearly all of them, goes through untouched: nothing wraps
its `receive` or `send`. The 413 is raised as Starlette's `HTTPException`, which FastAPI
lets through its body parsing, so the app's own handler renders it; when it surfaces in a
layer outside the routes (the idempotency layer buffers keyed bodies), this middleware
renders the same problem itself. It sits inside the correlation and metrics layers, so a
413 carries the correlation id and is counted.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koshiqon.common.http.problems import http_error_response

_CONTENT_LENGTH = b"content-length"


class BodyTooLarge(HTTPException):
    """The connection closes after the 413: the unread rest of the body is not wanted."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            detail=f"the request body is larger than {limit} bytes",
            headers={"Connection": "close"},
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
        elif declared is not None:
            await self.app(scope, receive, send)
        else:
            await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body of unknown length, counted as it arrives."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = http_error_response(BodyTooLarge(self.max_bytes), instance=scope.get("path"))
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when there is none or it is not a number (the server
    refuses a malformed one before the app sees the request)."""
    for name, value in scope.get("headers", ()):
        if name == _CONTENT_LENGTH:
            try:
                return int(value)
            except ValueError:
                return None
    return None
