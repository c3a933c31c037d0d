"""Verify OAuth2 bearer JWTs (RS256 / ES256) and turn them into a `Principal`.

Keys come from exactly one source, chosen from `AuthSettings` in this order: a JWKS URL, a
JWKS file, a PEM public key file, else (dev and test only) the development key of
`koshiqon.devtools`. Each key verifies exactly one
algorithm (the JWK's `alg`, else the one its type implies: RSA → RS256, P-256 → ES256), and
only asymmetric algorithms listed in `settings.algorithms` are accepted, so neither `none`
nor an HMAC forged with a public key can pass. Keys named in token headers (`jku`, `x5u`,
`jwk`) are never fetched or used.

A token is an RFC 9068 access token: header `typ: at+jwt` (compared without case, the
`application/` prefix allowed), or, where `settings.accept_plain_jwt` says so, `typ: JWT` or
no `typ` at all; any other type (an ID token's `id_token+jwt`, a DPoP proof, a logout token)
is refused. A token living longer than `settings.max_lifetime_seconds` (`exp - iat`) is
refused, whatever its signature.

Every token carries a `region` claim: a region's own KATO code, or `"*"` (`NATIONWIDE`) for
nationwide access. A token without it is refused (401), so that an identity-provider mapping
that drops the claim cannot widen a regional caller to the whole country.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.exceptions import InvalidJTIError, InvalidSubjectError

from koshiqon.common.auth.principal import Principal, region_code
from koshiqon.common.errors import InvalidInput, Unauthenticated
from koshiqon.common.settings import AuthSettings

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
REQUIRED_CLAIMS = ("exp", "iat", "sub")
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §2.1
PLAIN_JWT_TYPES = frozenset({"jwt", "application/jwt"})
NATIONWIDE = "*"
"""The `region` claim of a nationwide caller (the ministry, other state agencies)."""
MAX_TOKEN_LENGTH = 8192

_EXPLAINED: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidIssuedAtError, "invalid claim: iat"),
    (InvalidSubjectError, "invalid claim: sub"),
    (InvalidJTIError, "invalid claim: jti"),
    (jwt.InvalidKeyError, "signing key refused"),
    (jwt.DecodeError, "malformed token"),
)


class KeySource(Protocol):
    """Where verification keys come from; `kid` is the token's key id, if any."""

    async def key_for(self, kid: str | None) -> jwt.PyJWK: ...


class StaticKeys:
    """Keys loaded once: a JWKS file or the development key. Selected by `kid`."""

    def __init__(self, keys: Mapping[str, jwt.PyJWK]) -> None:
        if not keys:
            raise ValueError("no usable signing keys (RSA or EC public keys with a kid)")
        self._keys = dict(keys)

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any]) -> StaticKeys:
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise ValueError('a JWKS document needs a "keys" list')
        usable = (_usable_jwk(entry) for entry in entries if isinstance(entry, dict))
        return cls({jwk.key_id: jwk for jwk in usable if jwk is not None and jwk.key_id})

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        if kid is None:
            raise Unauthenticated("missing key id")
        if kid not in self._keys:
            raise Unauthenticated("unknown key id")
        return self._keys[kid]


class SingleKey:
    """One PEM public key; the token's `kid`, if any, is ignored."""

    def __init__(self, key: jwt.PyJWK) -> None:
        self._key = key

    @classmethod
    def from_pem(cls, pem: bytes) -> SingleKey:
        public_key = serialization.load_pem_public_key(pem)
        if isinstance(public_key, rsa.RSAPublicKey):
            return cls(jwt.PyJWK(jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)))
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            return cls(jwt.PyJWK(jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)))
        raise ValueError("the PEM public key must be an RSA or EC key")

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        return self._key


class RemoteJwks:
    """A JWKS URL. `PyJWKClient` fetches and caches the set (refetching on an unknown `kid`,
    with a cooldown); fetching blocks, so it runs in a worker thread. Keys already found are
    kept here for `lifespan_seconds`, so a known `kid` costs no thread hop."""

    def __init__(self, url: str, *, lifespan_seconds: float = 300, timeout: float = 5) -> None:
        self._client = jwt.PyJWKClient(url, lifespan=lifespan_seconds, timeout=timeout)
        self._lifespan = lifespan_seconds
        self._found: dict[str, tuple[jwt.PyJWK, float]] = {}

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        if kid is None:
            raise Unauthenticated("missing key id")
        cached = self._found.get(kid)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        jwk = await self._fetch(kid)
        self._found[kid] = (jwk, time.monotonic() + self._lifespan)
        return jwk

    async def _fetch(self, kid: str) -> jwt.PyJWK:
        try:
            jwk = await anyio.to_thread.run_sync(self._client.get_signing_key, kid)
        except jwt.PyJWKClientConnectionError:
            raise Unauthenticated("signing keys unavailable") from None
        except (jwt.PyJWKClientError, jwt.PyJWKSetError):
            raise Unauthenticated("unknown key id") from None
        if _usable_jwk_object(jwk) is None:
            raise Unauthenticated("unknown key id")
        return jwk


def key_source(settings: AuthSettings) -> KeySource:
    """The one key source `settings` configures (see `AuthSettings`)."""
    if settings.jwks_url:
        return RemoteJwks(settings.jwks_url)
    if settings.jwks_path:
        return StaticKeys.from_jwks(_read_json(settings.jwks_path))
    if settings.public_key_path:
        return SingleKey.from_pem(settings.public_key_path.read_bytes())
    return StaticKeys.from_jwks(_development_jwks())


def _development_jwks() -> dict[str, Any]:
    """The development key's public half, from the development tooling (`koshiqon.devtools`,
    in the workspace's dev group). A service image does not carry it: there, and outside dev
    and test (`ServiceSettings` refuses that), a key source must be configured."""
    try:
        from koshiqon.devtools.devkey import dev_public_jwks
    except ImportError:
        raise RuntimeError(
            "no token signing keys configured: set <SERVICE>_AUTH__JWKS_URL, _JWKS_PATH or"
            " _PUBLIC_KEY_PATH (the development key needs the koshiqon-devtools package)"
        ) from None
    return dev_public_jwks()


CACHE_SECONDS = 60.0
CACHE_SIZE = 4096


class TokenVerifier:
    """Checks a bearer token's signature, lifetime, issuer and audience, then its claims."""

    def __init__(self, settings: AuthSettings, *, keys: KeySource | None = None) -> None:
        refused = sorted(set(settings.algorithms) - ASYMMETRIC_ALGORITHMS)
        if refused or not settings.algorithms:
            raise ValueError(f"only asymmetric JWT algorithms may be configured, not {refused}")
        self._settings = settings
        self._algorithms = frozenset(settings.algorithms)
        self._keys = keys if keys is not None else key_source(settings)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The caller behind `token`. A token verified in the last `CACHE_SECONDS` is not
        verified again (an agency's client sends the same token with every request, and a
        signature check costs more than the rest of a simple request's CPU), but never past
        its own `exp`."""
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and now < cached[1]:
            self._verified.move_to_end(token)
            return cached[0]
        principal, expires = await self._verify(token)
        self._remember(token, principal, until=min(expires, now + CACHE_SECONDS))
        return principal

    def _remember(self, token: str, principal: Principal, *, until: float) -> None:
        self._verified[token] = (principal, until)
        self._verified.move_to_end(token)
        while len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)

    async def _verify(self, token: str) -> tuple[Principal, float]:
        header = _unverified_header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise Unauthenticated("algorithm not allowed")
        self._check_type(header.get("typ"))
        key = await self._keys.key_for(header.get("kid"))
        if key.algorithm_name != algorithm:
            raise Unauthenticated("algorithm does not match the key")
        claims = self._decode(token, key)
        if float(claims["exp"]) - float(claims["iat"]) > self._settings.max_lifetime_seconds:
            raise Unauthenticated(
                f"token lifetime over the maximum of {self._settings.max_lifetime_seconds} s"
            )
        return principal_from_claims(claims), float(claims["exp"])

    def _check_type(self, typ: object) -> None:
        if isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES:
            return
        plain = typ is None or (isinstance(typ, str) and typ.lower() in PLAIN_JWT_TYPES)
        if plain and self._settings.accept_plain_jwt:
            return
        raise Unauthenticated("wrong token type (an access token is typ at+jwt)")

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS), "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated(_explain(error)) from None


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The caller a verified claim set describes; a claim of the wrong shape is refused."""
    subject = _text_claim(claims, "sub")
    if subject is None:
        raise Unauthenticated("missing claim: sub")
    return Principal(
        subject=subject,
        scopes=_scopes(claims),
        agency=_text_claim(claims, "agency"),
        region=_region(claims),
        token_id=_text_claim(claims, "jti"),
    )


def _unverified_header(token: str) -> dict[str, Any]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("malformed token")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated("malformed token") from None


def _explain(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing claim: {error.claim}"
    for kind, message in _EXPLAINED:
        if isinstance(error, kind):
            return message
    return "invalid token"


def _text_claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Unauthenticated(f"invalid claim: {name}")
    return value


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """OAuth2 `scope` (one space-separated string) and/or `scopes` (a list of strings)."""
    found: set[str] = set()
    if (scope := claims.get("scope")) is not None:
        if not isinstance(scope, str):
            raise Unauthenticated("invalid claim: scope")
        found.update(scope.split())
    if (scopes := claims.get("scopes")) is not None:
        if not isinstance(scopes, list) or not all(_is_scope(s) for s in scopes):
            raise Unauthenticated("invalid claim: scopes")
        found.update(scopes)
    return frozenset(found)


def _is_scope(value: object) -> bool:
    return isinstance(value, str) and bool(value) and not any(ch.isspace() for ch in value)


def _region(claims: Mapping[str, Any]) -> str | None:
    """The region claim: a region's own KATO code (`AB0000000`) for a caller limited to that
    region, or `NATIONWIDE` (`"*"`) for a nationwide one (given as None). A token without the
    claim is refused: nationwide access is said, never inferred from a missing claim (an
    identity-provider mapping that drops it must not open every region). A district or
    settlement code is refused, not widened to its region (see `region_code`)."""
    value = _text_claim(claims, "region")
    if value is None:
        raise Unauthenticated(
            'missing claim: region (a region\'s KATO code, or "*" for nationwide access)'
        )
    if value == NATIONWIDE:
        return None
    try:
        return region_code(value)
    except InvalidInput:
        raise Unauthenticated("invalid claim: region (not a region code)") from None


def _usable_jwk(entry: dict[str, Any]) -> jwt.PyJWK | None:
    if entry.get("use", "sig") != "sig":
        return None
    try:
        return _usable_jwk_object(jwt.PyJWK(entry))
    except jwt.PyJWTError:
        return None


def _usable_jwk_object(jwk: jwt.PyJWK) -> jwt.PyJWK | None:
    """`jwk` if it is an RSA or EC public key for an asymmetric algorithm, else None (a
    private or symmetric key has no place in a verification key set)."""
    is_public = isinstance(jwk.key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return jwk if is_public and jwk.algorithm_name in ASYMMETRIC_ALGORITHMS else None


def _read_json(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path} does not hold a JWKS document")
    return document
