"""The monitoring service's indicators of a region, over HTTP (httpx): the evidence a
proposal freezes at submission (§5 → §6). `GET {monitoring_url}/v1/regions/{kato}/indicators`
for the last full calendar year (`period`: monitoring requires one, and a year's statistics
are published after it ends), with a timeout per attempt, retried on a timeout, a
connection failure or a 5xx with exponential backoff (a token the identity provider did not
give counts as a failure to reach it); None when monitoring did not answer with a JSON
object, so the caller keeps the evidence pending. Its bearer token: a client-credentials
grant (`ClientCredentials`), or a fixed token (development)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from koshiqon.common import kz
from koshiqon.common.http.client_auth import TokenRequestFailed

log = logging.getLogger("koshiqon.proposals.evidence")


class EvidenceSource(Protocol):
    async def indicators(self, region: str) -> Mapping[str, Any] | None: ...


class MonitoringClient:
    """The real evidence source. Creating it does no I/O; `aclose` ends its connections."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.25,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._now = now
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, headers=dict(headers or {}), auth=auth
        )
        self._retries = retries
        self._backoff = backoff

    async def indicators(self, region: str) -> Mapping[str, Any] | None:
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            outcome = await self._once(region)
            if isinstance(outcome, dict):
                return outcome
            if outcome == "final":
                return None
        log.warning("proposals.evidence-unavailable", extra={"region": region})
        return None

    async def _once(self, region: str) -> dict[str, Any] | str:
        """The snapshot, "retry" (timeout, connection, 5xx) or "final" (any other answer)."""
        try:
            response = await self._client.get(
                f"/v1/regions/{region}/indicators", params={"period": self.period()}
            )
        except (httpx.TransportError, TokenRequestFailed) as error:
            log.info(
                "proposals.evidence-attempt-failed",
                extra={"region": region, "error_type": type(error).__name__},
            )
            return "retry"
        if response.status_code >= 500:
            return "retry"
        if response.status_code != 200:
            log.warning(
                "proposals.evidence-refused",
                extra={"region": region, "status": response.status_code},
            )
            return "final"
        try:
            body = response.json()
        except ValueError:
            return "final"
        return body if isinstance(body, dict) else "final"

    def period(self) -> str:
        """The last full calendar year, Kazakhstan's."""
        return str(kz.kz_year(self._now()) - 1)

    async def aclose(self) -> None:
        await self._client.aclose()
