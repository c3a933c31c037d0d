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
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from koshiqon.common.auth.principal import Principal
from koshiqon.common.auth.verifier import TokenVerifier
from koshiqon.common.errors import Forbidden, Unauthenticated

PrincipalDependency = Callable[..., Coroutine[Any, Any, Principal]]


class BearerPrincipal(SecurityBase):
    """The verified caller behind `Authorization: Bearer <token>`, holding every one of
    `scopes`: 401 when the token is missing or cannot be trusted, 403 naming the missing
    scopes. One dependency, not a chain of three (credentials, caller, scopes): FastAPI
    solves every level of a chain on every request, and this one runs on every route.

    A `SecurityBase`, so the OpenAPI document declares the `bearer` scheme on each route
    that uses it, as `HTTPBearer` would."""

    def __init__(self, scopes: frozenset[str] = frozenset()) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="JWT",
            description="An OAuth2 access token: a JWT signed RS256 or ES256.",
        )
        self.scheme_name = "bearer"
        self.scopes = scopes

    async def __call__(self, request: Request) -> Principal:
        token = bearer_token(request.headers.get("authorization", ""))
        if token is None:
            raise Unauthenticated("missing bearer token", credentials_sent=False)
        principal = await token_verifier(request.app).verify(token)
        missing = sorted(self.scopes - principal.scopes)
        if missing:
            raise Forbidden(
                f"missing scope: {', '.join(missing)}", extra={"missing_scopes": missing}
            )
        return principal


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization` header value whose scheme is Bearer (in any case),
    else None."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


bearer_principal = BearerPrincipal()
"""The verified caller, whatever its scopes."""

Authenticated = Annotated[Principal, Depends(bearer_principal)]


def require_scopes(*scopes: str) -> PrincipalDependency:
    """A dependency giving the caller if it holds every one of `scopes`, else 403 naming the
    missing ones. Use it as the principal parameter or in a route's `dependencies=[...]`."""
    return BearerPrincipal(frozenset(scopes))


def region_guard(path_param: str = "kato") -> PrincipalDependency:
    """A dependency giving the caller if it may act on the KATO code in path parameter
    `path_param`; 403 when the code lies outside the caller's region, 422 when it is malformed.

    It only sees path parameters. For a KATO in the request body, the route checks it itself
    once the body is parsed: `principal.require_region(body.kato, field="kato")`. Either way
    a nationwide caller (region claim `"*"`) may act anywhere.
    """

    async def regional_principal(request: Request, principal: Authenticated) -> Principal:
        kato = request.path_params.get(path_param)
        if not isinstance(kato, str):
            raise RuntimeError(f"region_guard: the route has no path parameter {path_param!r}")
        principal.require_region(kato, field=path_param)
        return principal

    return regional_principal


def token_verifier(app: Any) -> TokenVerifier:
    """The app's `TokenVerifier` (`app.state.token_verifier`, set by the app factory)."""
    verifier = getattr(app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not set: the app factory must set it")
    return verifier
