"""Bearer tokens for one service calling another (proposals asking monitoring for a region's
indicators): the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) as an `httpx.Auth`.

The services refuse tokens that live longer than `AUTH__MAX_LIFETIME_SECONDS` (an hour by
default), so a fixed token in a Secret stops working within the hour. `ClientCredentials`
asks the identity provider's token endpoint for a token with the scopes the call needs,
keeps it until shortly before it expires, and asks again then -- or at once when the other
service answers 401 (a token revoked or rotated early), retrying that request once.
Concurrent requests share one token request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence

import httpx

log = logging.getLogger("koshiqon.http.client_auth")

REFRESH_BEFORE_SECONDS = 60.0  # a kept token is renewed this long before its expiry
DEFAULT_LIFETIME_SECONDS = 300.0  # when the answer gives no expires_in


class TokenRequestFailed(Exception):
    """The token endpoint did not give a token (its status is in the message, never the
    client secret)."""


class ClientCredentials(httpx.Auth):
    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = (),
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = token_url
        self._form = {"grant_type": "client_credentials"} | (
            {"scope": " ".join(scopes)} if scopes else {}
        )
        self._credentials = (client_id, client_secret)
        self._timeout = timeout
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.requested = 0  # tokens asked for, for metrics and tests

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._current()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            token = await self._current(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def _current(self, *, stale: str | None = None) -> str:
        async with self._lock:
            fresh = self._token is not None and self._token != stale
            if fresh and self._clock() < self._renew_at:
                assert self._token is not None
                return self._token
            self._token, lifetime = await self._request_token()
            self._renew_at = self._clock() + max(lifetime - REFRESH_BEFORE_SECONDS, 0.0)
            return self._token

    async def _request_token(self) -> tuple[str, float]:
        self.requested += 1
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            try:
                response = await client.post(
                    self._token_url, data=self._form, auth=httpx.BasicAuth(*self._credentials)
                )
            except httpx.TransportError as error:
                reason = f"token endpoint unreachable: {type(error).__name__}"
                raise TokenRequestFailed(reason) from None
        if response.status_code != 200:
            raise TokenRequestFailed(f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in", DEFAULT_LIFETIME_SECONDS))
        except (ValueError, KeyError, TypeError) as error:
            raise TokenRequestFailed(f"token endpoint answer unreadable: {error!r}") from None
        if not isinstance(token, str) or not token:
            raise TokenRequestFailed("token endpoint answer has no access_token")
        return token, lifetime


__all__ = ["ClientCredentials", "TokenRequestFailed"]
