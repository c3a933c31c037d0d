"""OAuth2 bearer tokens: verification, the caller (`Principal`), FastAPI dependencies, and
the development signing key."""

from koshiqon.common.auth.dependencies import (
    Authenticated,
    BearerPrincipal,
    bearer_principal,
    region_guard,
    require_scopes,
)
from koshiqon.common.auth.devkey import (
    DEV_KID,
    dev_key_path,
    dev_private_key,
    dev_public_jwks,
    issue_dev_token,
    sign_token,
)
from koshiqon.common.auth.principal import Principal, region_code
from koshiqon.common.auth.verifier import (
    KeySource,
    RemoteJwks,
    SingleKey,
    StaticKeys,
    TokenVerifier,
    key_source,
    principal_from_claims,
)

__all__ = [
    "DEV_KID",
    "Authenticated",
    "BearerPrincipal",
    "KeySource",
    "Principal",
    "RemoteJwks",
    "SingleKey",
    "StaticKeys",
    "TokenVerifier",
    "bearer_principal",
    "dev_key_path",
    "dev_private_key",
    "dev_public_jwks",
    "issue_dev_token",
    "key_source",
    "principal_from_claims",
    "region_code",
    "region_guard",
    "require_scopes",
    "sign_token",
]
