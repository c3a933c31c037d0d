"""The development signing key, and signing helpers for it and for tests.

The key is an ES256 (P-256) private key kept in the git-ignored state directory, created on
first use. Services trust it only when no real key source is configured, and
`ServiceSettings` refuses that outside the dev and test environments.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from koshiqon.common.auth.verifier import NATIONWIDE
from koshiqon.common.settings import DEFAULT_MAX_TOKEN_LIFETIME
from koshiqon.devtools.paths import state_dir

DEV_KID = "koshiqon-dev"
DEV_ALGORITHM = "ES256"
DEV_ISSUER = "koshiqon-dev"
DEV_AUDIENCE = "koshiqon"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def dev_key_path() -> Path:
    return state_dir() / "keys" / "dev-signing-key.pem"


def dev_private_key() -> ec.EllipticCurvePrivateKey:
    """The development key, created at `dev_key_path()` (mode 0600) when it does not exist."""
    path = dev_key_path()
    if not path.exists():
        _create_key_file(path)
    return _load_private_key(path)


def dev_public_jwks() -> dict[str, Any]:
    """The development key's public half as a JWKS document (`{"keys": [...]}`)."""
    jwk = dict(ECAlgorithm.to_jwk(dev_private_key().public_key(), as_dict=True))
    jwk.update(kid=DEV_KID, alg=DEV_ALGORITHM, use="sig")
    return {"keys": [jwk]}


def sign_token(
    private_key: PrivateKey,
    *,
    kid: str | None,
    claims: Mapping[str, Any],
    algorithm: str,
    typ: str = "at+jwt",
) -> str:
    """A compact JWS of `claims`, signed with `private_key`; `kid` and `typ` (by default an
    RFC 9068 access token's, `at+jwt`) go into the header."""
    headers: dict[str, Any] = {"typ": typ}
    if kid is not None:
        headers["kid"] = kid
    return jwt.encode(dict(claims), private_key, algorithm=algorithm, headers=headers)


def issue_dev_token(
    *,
    scopes: Sequence[str],
    region: str | None = None,
    agency: str | None = None,
    subject: str = "dev-cli",
    ttl_seconds: int = DEFAULT_MAX_TOKEN_LIFETIME,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    now: datetime | None = None,
) -> str:
    """A bearer token signed with the development key. Without `region`, a nationwide one
    (the region claim `"*"`, `NATIONWIDE`). `region` is not checked here: the verifier refuses
    anything but a region's own KATO code or `"*"`."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    if ttl_seconds > DEFAULT_MAX_TOKEN_LIFETIME:
        raise ValueError(
            f"ttl_seconds must be at most {DEFAULT_MAX_TOKEN_LIFETIME}"
            " (the services' default maximum token lifetime)"
        )
    issued = now or datetime.now(UTC)
    if issued.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
        "scope": _scope_claim(scopes),
        "region": NATIONWIDE if region is None else region,
    }
    if agency is not None:
        claims["agency"] = agency
    return sign_token(dev_private_key(), kid=DEV_KID, claims=claims, algorithm=DEV_ALGORITHM)


def _scope_claim(scopes: Sequence[str]) -> str:
    for scope in scopes:
        if not scope or any(ch.isspace() for ch in scope):
            raise ValueError(f"a scope must be one non-empty word: {scope!r}")
    return " ".join(scopes)


def _create_key_file(path: Path) -> None:
    """Write a new key next to `path` and link it into place.

    The first process to link wins; one that loses the race drops its own key and reads the
    winner's, so two processes starting at once end up with the same key, and a key that a
    running process has already loaded is never replaced under it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dev-signing-key.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp creates the file with mode 0600
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        _publish(Path(tmp), path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _publish(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        return  # another process won the race: its key is the key
    except OSError:
        if not path.exists():  # a filesystem without hard links: last writer wins
            os.replace(tmp, path)


def _load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} does not hold a P-256 private key")
    return key
