"""Who is looking at the dashboard. A program sends its bearer token in the `Authorization`
header, as to the API; a browser signs in once through the form at `/dashboard/login` and
then sends the session cookie. Either way the token is verified by the service's
`TokenVerifier` (signature, lifetime, issuer, audience) on every request and must grant
monitoring:read.

The cookie holds the access token itself: `HttpOnly` (no script reads it), `SameSite=Strict`
(the browser sends it only on requests that start on this site, so no other site can make
an authenticated request: that covers CSRF for every page and download) and `Secure` over
https (`DashboardSettings`). It has no Max-Age: it ends with the browser
session, and sooner when the token expires (at most an hour, `AUTH__MAX_LIFETIME_SECONDS`),
when the next request is sent back to the form. The two forms that change the session
(sign in, sign out) are refused when the browser says they were posted from another site
(`Sec-Fetch-Site`, else `Origin`): a login CSRF cannot put another identity into a
victim's browser. docs/architecture.md ("The dashboard's sign-in") says how an OpenID
Connect login replaces the token form."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response
from pydantic_settings import BaseSettings

from koshiqon.common.auth import Principal
from koshiqon.common.auth.dependencies import bearer_token, token_verifier
from koshiqon.common.errors import Forbidden, Unauthenticated
from koshiqon.common.settings import service_config

SESSION_COOKIE = "koshiqon_dashboard"
READ_SCOPE = "monitoring:read"
MAX_COOKIE_TOKEN = 3800  # a cookie is 4096 bytes at most, name and attributes included
COOKIE_PATH = "/dashboard"


class SignInNeeded(Exception):
    """No session, or one whose token is no longer valid (`reason`: a catalogue key)."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "sign in")
        self.reason = reason


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    program: bool  # came with a bearer header, not the session cookie


def from_program(request: Request) -> bool:
    return "authorization" in request.headers


async def viewer(request: Request) -> Viewer:
    """The caller, holding monitoring:read. A bearer header that fails raises
    `Unauthenticated`/`Forbidden` (problem+json, as the API answers a program); a browser
    without a valid session gets `SignInNeeded`, and one whose token lacks the scope
    `Forbidden`."""
    header = request.headers.get("authorization")
    if header is not None:
        token = bearer_token(header)
        if token is None:
            raise Unauthenticated("the Authorization header is not a bearer token")
        principal = await token_verifier(request.app).verify(token)
        principal.require_scope(READ_SCOPE)
        return Viewer(principal, program=True)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded(None)
    try:
        principal = await token_verifier(request.app).verify(token)
    except Unauthenticated:
        raise SignInNeeded("session_ended") from None
    principal.require_scope(READ_SCOPE)
    return Viewer(principal, program=False)


async def sign_in(request: Request, token: str) -> Principal:
    """The principal of a token typed into the form: `Unauthenticated` when it is not valid,
    `Forbidden` when it does not grant monitoring:read."""
    token = token.strip()
    if not token or len(token) > MAX_COOKIE_TOKEN:
        raise Unauthenticated("malformed token")
    principal = await token_verifier(request.app).verify(token)
    if not principal.has_scope(READ_SCOPE):
        raise Forbidden(f"missing scope: {READ_SCOPE}", extra={"missing_scopes": [READ_SCOPE]})
    return principal


def posted_here(request: Request) -> bool:
    """Whether a form was posted from this site: the browser's `Sec-Fetch-Site`, else its
    `Origin` against our `Host`. A client that sends neither is no browser, and so no CSRF
    victim."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host")


class DashboardSettings(BaseSettings):
    """`MONITORING_DASHBOARD_COOKIE_SECURE`: the session cookie is Secure (sent over https
    only); unset, when the request came over https (behind a proxy: its X-Forwarded-Proto,
    trusted through uvicorn's --forwarded-allow-ips)."""

    model_config = service_config("MONITORING_DASHBOARD_")

    cookie_secure: bool | None = None


def settings_of(request: Request) -> DashboardSettings:
    """The app's dashboard settings: `app.state.dashboard_settings`, else the environment's
    (read once, then kept there)."""
    found = getattr(request.app.state, "dashboard_settings", None)
    if not isinstance(found, DashboardSettings):
        found = DashboardSettings()
        request.app.state.dashboard_settings = found
    return found


def secure(request: Request) -> bool:
    configured = settings_of(request).cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def set_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token.strip(), path=COOKIE_PATH, httponly=True, samesite="strict",
        secure=secure(request),
    )  # fmt: skip


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure(request)
    )
