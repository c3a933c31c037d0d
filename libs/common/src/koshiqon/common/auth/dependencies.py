"""FastAPI dependencies: the caller behind `Authorization: Bearer <token>`, scopes, region.

The app factory puts the service's `TokenVerifier` on `app.state.token_verifier`. A route
then asks for what it needs::

    @router.get("/regions/{kato}/registrations")
    async def list_registrations(
        kato: str,
        principal: Annotated[Principal, Depends(require_scopes("registration:read"))],
    ) -> RegistrationPage:
        principal.require_region(kato, field="kato")
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from koshiqon.common.auth.principal import Principal
from koshiqon.common.auth.verifier import TokenVerifier
from koshiqon.common.errors import Forbidden, Unauthenticated

PrincipalDependency = Callable[..., Coroutine[Any, Any, Principal]]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An OAuth2 access token: a JWT signed RS256 or ES256.",
)


async def bearer_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The verified caller; 401 when the bearer token is missing or cannot be trusted."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("missing bearer token", credentials_sent=False)
    return await _verifier(request).verify(credentials.credentials)


Authenticated = Annotated[Principal, Depends(bearer_principal)]


def require_scopes(*scopes: str) -> PrincipalDependency:
    """A dependency giving the caller if it holds every one of `scopes`, else 403 naming the
    missing ones. Use it as the principal parameter or in a route's `dependencies=[...]`."""
    wanted = frozenset(scopes)

    async def scoped_principal(principal: Authenticated) -> Principal:
        missing = sorted(wanted - principal.scopes)
        if missing:
            raise Forbidden(
                f"missing scope: {', '.join(missing)}", extra={"missing_scopes": missing}
            )
        return principal

    return scoped_principal


def region_guard(path_param: str = "kato") -> PrincipalDependency:
    """A dependency giving the caller if it may act on the KATO code in path parameter
    `path_param`; 403 when the code lies outside the caller's region, 422 when it is malformed.

    It only sees path parameters. For a KATO in the request body, the route checks it itself
    once the body is parsed: `principal.require_region(body.kato, field="kato")`. Either way
    a nationwide caller (no region claim) may act anywhere.
    """

    async def regional_principal(request: Request, principal: Authenticated) -> Principal:
        kato = request.path_params.get(path_param)
        if not isinstance(kato, str):
            raise RuntimeError(f"region_guard: the route has no path parameter {path_param!r}")
        principal.require_region(kato, field=path_param)
        return principal

    return regional_principal


def _verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not set: the app factory must set it")
    return verifier
