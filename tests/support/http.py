"""A service's real app over ASGI for a test, and what every 503 must look like."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

# nothing listens on port 9 (discard): a database URL that is always away
DATABASE_AWAY = "postgresql://nobody:nothing@127.0.0.1:9/koshiqon"


@asynccontextmanager
async def served(
    app: FastAPI, base_url: str = "http://service"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app`, its lifespan run around it as a server would."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def assert_unavailable(response: httpx.Response) -> None:
    """503 problem+json with a Retry-After: a dependency away, not a defect."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"].endswith("/unavailable")
