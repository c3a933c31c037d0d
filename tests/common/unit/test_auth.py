"""Bearer-token verification, the Principal, the FastAPI dependencies and `koshiqon token`.

Keys are throwaway RSA / EC keys made per test, plus the development key kept in a temporary
state directory. A tiny FastAPI app is driven in-process through httpx's ASGI transport.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from koshiqon.common.auth import (
    Authenticated,
    Principal,
    RemoteJwks,
    TokenVerifier,
    region_guard,
    require_scopes,
)
from koshiqon.common.errors import Forbidden, InvalidInput, Unauthenticated
from koshiqon.common.http.problems import install_problem_handlers
from koshiqon.common.settings import AuthSettings
from koshiqon.devtools import token as auth_cli
from koshiqon.devtools.devkey import (
    DEV_KID,
    PrivateKey,
    dev_key_path,
    dev_private_key,
    dev_public_jwks,
    issue_dev_token,
    sign_token,
)

ALMATY = "750000000"
ASTANA = "710000000"
ALMATY_DISTRICT = "751110000"
NATIONWIDE = "*"
NO_REGION = 'missing claim: region (a region\'s KATO code, or "*" for nationwide access)'
ISSUER = "koshiqon-dev"
AUDIENCE = "koshiqon"
KID = "test-rsa-1"


# --- keys and tokens ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("KOSHIQON_STATE_DIR", str(state))
    return state


def public_jwk(key: PrivateKey, kid: str, alg: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    else:
        jwk = dict(ECAlgorithm.to_jwk(public, as_dict=True))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "agency-client-1",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": "token-1",
        "scope": "registration:read",
        "region": ALMATY,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def rs256(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    """An RS256 access token (`typ: at+jwt`, as `sign_token` types it) of `claims(...)`."""
    return sign_token(key, kid=KID, claims=claims(**overrides), algorithm="RS256")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


@pytest.fixture
def jwks_settings(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> AuthSettings:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(rsa_key, KID, "RS256")]}))
    return AuthSettings(jwks_path=path)


@pytest.fixture
def verifier(jwks_settings: AuthSettings) -> TokenVerifier:
    return TokenVerifier(jwks_settings)


# --- the app -------------------------------------------------------------------------------


def build_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = verifier

    @app.get("/regions/{kato}/registrations", dependencies=[Depends(region_guard("kato"))])
    async def list_registrations(
        kato: str,
        principal: Annotated[Principal, Depends(require_scopes("registration:read"))],
    ) -> dict[str, Any]:
        return {"kato": kato, "subject": principal.subject, "region": principal.region}

    @app.get("/me")
    async def me(principal: Authenticated) -> dict[str, Any]:
        return {"subject": principal.subject, "scopes": sorted(principal.scopes)}

    return app


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def get_registrations(
    http: httpx.AsyncClient, token: str | None, kato: str = ALMATY
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await http.get(f"/regions/{kato}/registrations", headers=headers)


def assert_unauthenticated(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"] == detail


# --- accepted tokens -----------------------------------------------------------------------


async def test_rs256_token_from_jwks_file_passes(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    response = await get_registrations(client, rs256(rsa_key))
    assert response.status_code == 200, response.text
    assert response.json() == {"kato": ALMATY, "subject": "agency-client-1", "region": ALMATY}


async def test_es256_dev_token_passes(state_dir: Path) -> None:
    app = build_app(TokenVerifier(AuthSettings()))
    token = issue_dev_token(scopes=["registration:read"], region=ASTANA, agency="akimat-astana")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await get_registrations(c, token, kato=ASTANA)
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "dev-cli"
    assert jwt.get_unverified_header(token)["kid"] == DEV_KID


async def test_verify_gives_the_principal(
    verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = rs256(rsa_key, scope="a:read b:write", scopes=["c:admin"], agency="stat-bureau")
    principal = await verifier.verify(token)
    assert principal == Principal(
        subject="agency-client-1",
        scopes=frozenset({"a:read", "b:write", "c:admin"}),
        agency="stat-bureau",
        region=ALMATY,
        token_id="token-1",
    )


async def test_nationwide_token_acts_in_any_region(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    """Nationwide access is said explicitly: the region claim `"*"`."""
    token = rs256(rsa_key, region=NATIONWIDE, agency="ministry")
    for kato in (ALMATY, ASTANA, ALMATY_DISTRICT):
        response = await get_registrations(client, token, kato=kato)
        assert response.status_code == 200, response.text
        assert response.json()["region"] is None


async def test_a_token_with_neither_region_nor_marker_is_refused(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    """An identity-provider mapping that drops the region claim must not open every region:
    a token with neither a region nor the nationwide marker is refused, wherever it goes."""
    token = rs256(rsa_key, region=None, agency="ministry")
    for kato in (ALMATY, ASTANA):
        assert_unauthenticated(await get_registrations(client, token, kato=kato), NO_REGION)
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert_unauthenticated(response, NO_REGION)


async def test_a_regional_token_is_limited_to_its_region(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = rs256(rsa_key, region=ASTANA)
    assert (await get_registrations(client, token, kato=ASTANA)).status_code == 200
    refused = await get_registrations(client, token, kato=ALMATY)
    assert refused.status_code == 403, refused.text
    assert (
        refused.json()["detail"] == f"the token is limited to region {ASTANA}; kato is outside it"
    )


async def test_regional_token_acts_on_districts_of_its_region(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    response = await get_registrations(client, rs256(rsa_key), kato=ALMATY_DISTRICT)
    assert response.status_code == 200, response.text


async def test_pem_public_key_file_source(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(public_pem(key))
    verifier = TokenVerifier(AuthSettings(public_key_path=pem))
    token = sign_token(key, kid=None, claims=claims(), algorithm="ES256")
    assert (await verifier.verify(token)).region == ALMATY


async def test_pem_key_refuses_another_algorithm(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    pem = tmp_path / "issuer.pem"
    pem.write_bytes(public_pem(rsa_key))
    verifier = TokenVerifier(AuthSettings(public_key_path=pem))
    token = sign_token(
        ec.generate_private_key(ec.SECP256R1()), kid=None, claims=claims(), algorithm="ES256"
    )
    with pytest.raises(Unauthenticated, match="algorithm does not match the key"):
        await verifier.verify(token)


# --- refused tokens: 401 -------------------------------------------------------------------


async def test_expired_token_is_401_problem(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    token = rs256(rsa_key, iat=int(past.timestamp()), exp=int(past.timestamp()) + 60)
    response = await get_registrations(client, token)
    assert_unauthenticated(response, "token expired")
    assert response.json()["type"] == "https://koshiqon.kz/problems/unauthenticated"


async def test_expiry_within_leeway_passes(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = int(datetime.now(UTC).timestamp())
    response = await get_registrations(client, rs256(rsa_key, iat=now - 600, exp=now - 5))
    assert response.status_code == 200, response.text


async def test_token_from_the_future_is_refused(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    later = int(datetime.now(UTC).timestamp()) + 3600
    response = await get_registrations(client, rs256(rsa_key, iat=later, exp=later + 60))
    assert_unauthenticated(response, "token not yet valid")


async def test_token_signed_by_another_key_is_refused(client: httpx.AsyncClient) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await get_registrations(client, rs256(impostor))
    assert_unauthenticated(response, "bad signature")


async def test_unknown_key_id_is_refused(client: httpx.AsyncClient) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = sign_token(impostor, kid="someone-else", claims=claims(), algorithm="RS256")
    assert_unauthenticated(await get_registrations(client, token), "unknown key id")


async def test_token_without_key_id_is_refused_by_a_jwks(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = sign_token(rsa_key, kid=None, claims=claims(), algorithm="RS256")
    assert_unauthenticated(await get_registrations(client, token), "missing key id")


async def test_tampered_payload_is_refused(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    header, _, signature = rs256(rsa_key, region=ASTANA).split(".")
    forged = f"{header}.{b64json(claims(region=None))}.{signature}"
    assert_unauthenticated(await get_registrations(client, forged), "bad signature")


async def test_alg_none_is_refused(client: httpx.AsyncClient) -> None:
    token = f"{b64json({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{b64json(claims())}."
    assert_unauthenticated(await get_registrations(client, token), "algorithm not allowed")


async def test_hs256_with_the_public_key_as_secret_is_refused(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{b64json(claims())}"
    mac = hmac.new(public_pem(rsa_key), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64url(mac)}"
    assert_unauthenticated(await get_registrations(client, forged), "algorithm not allowed")


def test_symmetric_algorithms_cannot_be_configured(jwks_settings: AuthSettings) -> None:
    for algorithms in (("HS256",), ("RS256", "none"), ()):
        settings = jwks_settings.model_copy(update={"algorithms": algorithms})
        with pytest.raises(ValueError, match="asymmetric"):
            TokenVerifier(settings)


async def test_algorithm_outside_settings_is_refused(
    jwks_settings: AuthSettings, rsa_key: rsa.RSAPrivateKey
) -> None:
    verifier = TokenVerifier(jwks_settings.model_copy(update={"algorithms": ("ES256",)}))
    with pytest.raises(Unauthenticated, match="algorithm not allowed"):
        await verifier.verify(rs256(rsa_key))


@pytest.mark.parametrize(
    ("override", "detail"),
    [
        ({"aud": "another-system"}, "wrong audience"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
        ({"aud": None}, "missing claim: aud"),
        ({"iss": None}, "missing claim: iss"),
        ({"sub": None}, "missing claim: sub"),
        ({"exp": None}, "missing claim: exp"),
        ({"iat": None}, "missing claim: iat"),
        ({"sub": 42}, "invalid claim: sub"),
        ({"scope": ["registration:read"]}, "invalid claim: scope"),
        ({"scopes": "registration:read"}, "invalid claim: scopes"),
        ({"agency": 7}, "invalid claim: agency"),
    ],
)
async def test_bad_claims_are_refused(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey, override: dict[str, Any], detail: str
) -> None:
    assert_unauthenticated(await get_registrations(client, rs256(rsa_key, **override)), detail)


@pytest.mark.parametrize("region", [ALMATY_DISTRICT, "990000000", "75", 750000000])
async def test_region_claim_must_be_a_region_code(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey, region: object
) -> None:
    """A district code is refused, not widened to its region: a token for one district must
    not become authority over the whole region (see `principal.region_code`)."""
    response = await get_registrations(client, rs256(rsa_key, region=region))
    detail = "invalid claim: region" if isinstance(region, int) else None
    assert_unauthenticated(response, detail or "invalid claim: region (not a region code)")


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "missing bearer token"),
        ("Basic dXNlcjpwYXNz", "missing bearer token"),
        ("Bearer", "missing bearer token"),
        ("Bearer    ", "missing bearer token"),
        ("Bearer not-a-jwt", "malformed token"),
        ("Bearer a.b.c", "malformed token"),
        ("Bearer " + "x" * 9000, "malformed token"),
    ],
)
async def test_missing_or_malformed_token(
    client: httpx.AsyncClient, authorization: str | None, detail: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get(f"/regions/{ALMATY}/registrations", headers=headers)
    assert_unauthenticated(response, detail)


async def test_the_scheme_is_case_insensitive(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    """RFC 9110 §11.1: `bearer`, `BEARER` and `Bearer` name the same scheme."""
    for scheme in ("bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {rs256(rsa_key)}"}
        response = await client.get(f"/regions/{ALMATY}/registrations", headers=headers)
        assert response.status_code == 200, response.text


# --- the token type (RFC 9068) and the lifetime ----------------------------------------------


def typed(key: rsa.RSAPrivateKey, typ: str | None, **overrides: Any) -> str:
    """An RS256 token whose `typ` header is `typ` (None: no `typ` header at all)."""
    headers = {"kid": KID, "typ": typ if typ is not None else ""}  # PyJWT drops an empty typ
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers=headers)


def test_tokens_signed_here_are_typed_at_jwt(rsa_key: rsa.RSAPrivateKey, state_dir: Path) -> None:
    assert jwt.get_unverified_header(rs256(rsa_key))["typ"] == "at+jwt"
    assert jwt.get_unverified_header(issue_dev_token(scopes=["a:b"]))["typ"] == "at+jwt"


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
async def test_access_token_type_passes(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey, typ: str
) -> None:
    assert (await get_registrations(client, typed(rsa_key, typ))).status_code == 200


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", None])
async def test_plain_jwt_type_is_refused_by_default(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey, typ: str | None
) -> None:
    """`AuthSettings()` is strict: only an RFC 9068 access token (`typ: at+jwt`) passes."""
    response = await get_registrations(client, typed(rsa_key, typ))
    assert_unauthenticated(response, "wrong token type (an access token is typ at+jwt)")


@pytest.mark.parametrize("typ", ["JWT", "application/jwt", None, "at+jwt"])
async def test_plain_jwt_type_passes_when_configured(
    jwks_settings: AuthSettings, rsa_key: rsa.RSAPrivateKey, typ: str | None
) -> None:
    verifier = TokenVerifier(jwks_settings.model_copy(update={"accept_plain_jwt": True}))
    assert (await verifier.verify(typed(rsa_key, typ))).subject == "agency-client-1"


@pytest.mark.parametrize("typ", ["dpop+jwt", "logout+jwt", "JOSE", "secevent+jwt"])
async def test_other_token_types_are_always_refused(
    jwks_settings: AuthSettings, rsa_key: rsa.RSAPrivateKey, typ: str
) -> None:
    verifier = TokenVerifier(jwks_settings.model_copy(update={"accept_plain_jwt": True}))
    with pytest.raises(Unauthenticated, match="wrong token type"):
        await verifier.verify(typed(rsa_key, typ))


async def test_a_lifetime_over_the_maximum_is_refused(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = int(datetime.now(UTC).timestamp())
    at_the_cap = rs256(rsa_key, iat=now, exp=now + 3600)
    assert (await get_registrations(client, at_the_cap)).status_code == 200
    response = await get_registrations(client, rs256(rsa_key, iat=now, exp=now + 3601))
    assert_unauthenticated(response, "token lifetime over the maximum of 3600 s")
    a_year = rs256(rsa_key, iat=now - 60, exp=now + 365 * 86400)
    assert_unauthenticated(await get_registrations(client, a_year), response.json()["detail"])


async def test_the_maximum_lifetime_is_configurable(
    jwks_settings: AuthSettings, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = int(datetime.now(UTC).timestamp())
    token = rs256(rsa_key, iat=now, exp=now + 7200)
    longer = TokenVerifier(jwks_settings.model_copy(update={"max_lifetime_seconds": 7200}))
    assert (await longer.verify(token)).subject == "agency-client-1"
    shorter = TokenVerifier(jwks_settings.model_copy(update={"max_lifetime_seconds": 600}))
    with pytest.raises(Unauthenticated, match="maximum of 600 s"):
        await shorter.verify(rs256(rsa_key, iat=now, exp=now + 601))


def test_dev_token_lifetime_is_bounded(state_dir: Path) -> None:
    with pytest.raises(ValueError, match="at most 3600"):
        issue_dev_token(scopes=["a:b"], ttl_seconds=3601)


# --- refused operations: 403 ---------------------------------------------------------------


async def test_wrong_scope_is_403(client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey) -> None:
    response = await get_registrations(client, rs256(rsa_key, scope="quota:read"))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "missing scope: registration:read"
    assert response.json()["missing_scopes"] == ["registration:read"]


async def test_wrong_region_is_403(client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey) -> None:
    response = await get_registrations(client, rs256(rsa_key), kato=ASTANA)
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == "kato"


async def test_malformed_kato_in_path_is_422(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    response = await get_registrations(client, rs256(rsa_key), kato="12345")
    assert response.status_code == 422, response.text


async def test_authenticated_alias_needs_no_scope(
    client: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = rs256(rsa_key, scope=None, scopes=["quota:read"])
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"subject": "agency-client-1", "scopes": ["quota:read"]}


def test_openapi_declares_the_bearer_scheme(verifier: TokenVerifier) -> None:
    schema = build_app(verifier).openapi()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An OAuth2 access token: a JWT signed RS256 or ES256.",
    }
    operation = schema["paths"]["/regions/{kato}/registrations"]["get"]
    assert operation["security"] == [{"bearer": []}]


# --- the Principal -------------------------------------------------------------------------


def test_principal_scopes_and_regions() -> None:
    akimat = Principal("akimat", frozenset({"proposals:write"}), "akimat", ALMATY, None)
    akimat.require_scope("proposals:write")
    with pytest.raises(Forbidden, match="missing scope: proposals:decide"):
        akimat.require_scope("proposals:decide")
    assert akimat.can_act_in(ALMATY_DISTRICT)
    assert not akimat.can_act_in(ASTANA)
    with pytest.raises(Forbidden) as refused:
        akimat.require_region(ASTANA, field="territory.kato")
    assert refused.value.field == "territory.kato"
    with pytest.raises(InvalidInput):
        akimat.can_act_in("not-kato")


# --- remote JWKS ---------------------------------------------------------------------------


@pytest.fixture
def jwks_server(rsa_key: rsa.RSAPrivateKey) -> Iterator[tuple[str, list[int]]]:
    body = json.dumps({"keys": [public_jwk(rsa_key, KID, "RS256")]}).encode()
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", hits
    finally:
        server.shutdown()
        server.server_close()


async def test_jwks_url_source_fetches_once_and_caches(
    jwks_server: tuple[str, list[int]], rsa_key: rsa.RSAPrivateKey
) -> None:
    url, hits = jwks_server
    verifier = TokenVerifier(AuthSettings(jwks_url=url))
    for _ in range(3):
        assert (await verifier.verify(rs256(rsa_key))).subject == "agency-client-1"
    assert len(hits) == 1


async def test_unreachable_jwks_url_is_401() -> None:
    keys = RemoteJwks("http://127.0.0.1:9/jwks.json", timeout=1)
    with pytest.raises(Unauthenticated, match="signing keys unavailable"):
        await keys.key_for(KID)


# --- the development key -------------------------------------------------------------------


def test_dev_key_is_created_once_with_mode_0600(state_dir: Path) -> None:
    first = dev_private_key()
    path = dev_key_path()
    assert path == state_dir / "keys" / "dev-signing-key.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert dev_private_key().private_numbers() == first.private_numbers()
    assert dev_public_jwks()["keys"][0]["kid"] == DEV_KID
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_dev_key_race_gives_every_process_the_same_key(state_dir: Path) -> None:
    found: list[int] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        found.append(dev_private_key().private_numbers().private_value)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1
    assert len(list(dev_key_path().parent.iterdir())) == 1


def test_issue_dev_token_claims(state_dir: Path) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    token = issue_dev_token(scopes=["quota:admin"], subject="ops", ttl_seconds=60, now=now)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["scope"] == "quota:admin"
    assert payload["exp"] - payload["iat"] == 60
    assert (payload["iss"], payload["aud"], payload["sub"]) == (ISSUER, AUDIENCE, "ops")
    assert payload["region"] == NATIONWIDE  # no region given: the nationwide marker
    with pytest.raises(ValueError, match="one non-empty word"):
        issue_dev_token(scopes=["two words"])


# --- `koshiqon token` ----------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="koshiqon")
    auth_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["token", *argv])


async def test_cli_token_prints_only_a_verifiable_token(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("--scope", "registration:read", "--scope", "quota:read", "--region", ALMATY)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    principal = await TokenVerifier(AuthSettings()).verify(out.strip())
    assert principal.scopes == {"registration:read", "quota:read"}
    assert principal.region == ALMATY
    assert principal.subject == "dev-cli"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--region", ALMATY_DISTRICT), "not a region code"),
        (("--region", "990000000"), "--region '990000000'"),
        (("--ttl", "0"), "--ttl must be a positive"),
        (("--ttl", "3601"), "--ttl must be at most 3600 seconds"),
        (("--agency", "x", "--region", "abc"), "--region 'abc'"),
    ],
)
def test_cli_token_usage_errors_exit_2(
    state_dir: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    args = parse("--scope", "registration:read", *argv)
    assert args.func(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


@pytest.mark.parametrize("argv", [(), ("--nationwide",)], ids=["default", "explicit"])
async def test_cli_token_is_nationwide_without_a_region(
    state_dir: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    args = parse("--scope", "quota:admin", *argv)
    assert args.func(args) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, options={"verify_signature": False})["region"] == NATIONWIDE
    assert (await TokenVerifier(AuthSettings()).verify(token)).nationwide


def test_cli_token_nationwide_and_region_exclude_each_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--scope", "quota:read", "--nationwide", "--region", ALMATY)
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


async def test_dev_token_without_region_is_nationwide(state_dir: Path) -> None:
    principal = await TokenVerifier(AuthSettings()).verify(issue_dev_token(scopes=["a:b"]))
    assert principal.nationwide
    assert principal.region is None


def test_cli_token_needs_a_scope(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--region", ALMATY)
    assert exited.value.code == 2
    assert "--scope" in capsys.readouterr().err


async def test_a_verified_token_is_remembered_but_never_past_its_expiry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOSHIQON_STATE_DIR", str(tmp_path))
    verifier = TokenVerifier(AuthSettings(leeway_seconds=0))
    token = issue_dev_token(scopes=["quota:read"], ttl_seconds=2)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first  # served from memory, same principal
    await asyncio.sleep(2.5)
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(token)
