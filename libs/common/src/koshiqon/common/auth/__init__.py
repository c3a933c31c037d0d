"""OAuth2 bearer tokens: verification, the caller (`Principal`), FastAPI dependencies. The
development signing key is in `koshiqon.devtools` (not in a service image)."""

from koshiqon.common.auth.dependencies import (
    Authenticated,
    BearerPrincipal,
    bearer_principal,
    region_guard,
    require_scopes,
)
from koshiqon.common.auth.principal import Principal, region_code
from koshiqon.common.auth.verifier import (
    NATIONWIDE,
    KeySource,
    RemoteJwks,
    SingleKey,
    StaticKeys,
    TokenVerifier,
    key_source,
    principal_from_claims,
)

__all__ = [
    "NATIONWIDE",
    "Authenticated",
    "BearerPrincipal",
    "KeySource",
    "Principal",
    "RemoteJwks",
    "SingleKey",
    "StaticKeys",
    "TokenVerifier",
    "bearer_principal",
    "key_source",
    "principal_from_claims",
    "region_code",
    "region_guard",
    "require_scopes",
]
