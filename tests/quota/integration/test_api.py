"""The HTTP API over ASGI with dev-key tokens, on the real PostgreSQL: routes, problems, the
authorization matrix over every route, and the quota order import."""

from __future__ import annotations

import uuid

import httpx
import pytest
from quota.helpers import ALMATY_CITY, NORTH_KAZ, PAVLODAR, token
from support.reference import quota_order_2026
from support.services import ServiceSchema

pytestmark = pytest.mark.integration

ORDER_2026 = quota_order_2026()
ADMIN = token()


async def territory(client: httpx.AsyncClient, kato: str = PAVLODAR, kind: str = "kandas"):
    body = {"kato": kato, "kind": kind, "effective_from": "2026-01-01", "decision": "Decree 7"}
    response = await client.post("/v1/territories", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def quota(client: httpx.AsyncClient, **overrides: object) -> httpx.Response:
    body = {"kind": "kandas", "region": PAVLODAR, "year_from": 2026, "limit": 100} | overrides
    return await client.post("/v1/quotas", json=body, headers=ADMIN)


async def test_establish_adjust_and_read_a_quota(client: httpx.AsyncClient) -> None:
    await territory(client)
    created = await quota(client, reference="order 12")
    assert created.status_code == 201, created.text
    quota_id = created.json()["id"]
    adjusted = await client.post(
        f"/v1/quotas/{quota_id}/adjustments",
        json={"delta": -30, "reason": "mid-year amendment", "reference": "order 15"},
        headers=ADMIN,
    )
    assert adjusted.status_code == 200, adjusted.text
    got = (await client.get(f"/v1/quotas/{quota_id}", headers=ADMIN)).json()
    assert (got["limit"], got["remaining"], got["utilization"]) == (70, 70, 0.0)
    history = (await client.get(f"/v1/quotas/{quota_id}/history", headers=ADMIN)).json()
    assert [h["action"] for h in history["items"]] == ["established", "reduced"]
    listed = await client.get("/v1/quotas", params={"kind": "kandas", "year": 2026}, headers=ADMIN)
    assert [q["id"] for q in listed.json()["items"]] == [quota_id]


async def test_a_keyed_adjustment_marks_its_effect_with_it(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    """A delta applied under an Idempotency-Key is marked in its own transaction, so a
    response lost after the commit can never apply it twice (koshiqon.common.http.idempotency)."""
    await territory(client)
    quota_id = (await quota(client)).json()["id"]
    headers = ADMIN | {"Idempotency-Key": f"adjust-{quota_id}"}
    body = {"delta": 10, "reason": "amendment", "reference": "order 16"}
    url = f"/v1/quotas/{quota_id}/adjustments"
    first = await client.post(url, json=body, headers=headers)
    replay = await client.post(url, json=body, headers=headers)

    assert first.status_code == replay.status_code == 200, first.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert (await client.get(f"/v1/quotas/{quota_id}", headers=ADMIN)).json()["limit"] == 110
    marked = await schema.scalar(
        "SELECT effect_committed FROM idempotency_keys WHERE key = :key",
        key=headers["Idempotency-Key"],
    )
    assert marked is True


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"region": "990000000"}, 422, "region"),
        ({"region": "551010000"}, 422, "region"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": -5}, 422, "limit"),
        ({"year_to": 2025}, 422, "year_to"),
        ({"year_to": 2031}, 422, "year_to"),
        ({"category": "3"}, 422, "category"),
        ({"kind": "foreign_labour"}, 422, "category"),
        ({"region": NORTH_KAZ}, 409, "region"),
    ],
)
async def test_bad_quotas_are_refused_with_problems(
    client: httpx.AsyncClient, overrides: dict[str, object], status: int, field: str
) -> None:
    await territory(client)
    response = await quota(client, **overrides)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in str(response.json().get("errors"))


async def test_a_duplicate_active_quota_is_a_conflict(client: httpx.AsyncClient) -> None:
    await territory(client)
    assert (await quota(client)).status_code == 201
    again = await quota(client, year_from=2025, year_to=2027)
    assert again.status_code == 409
    assert again.json()["type"].endswith("duplicate-quota")


async def test_reservation_over_http_is_idempotent(client: httpx.AsyncClient) -> None:
    await territory(client)
    await quota(client, limit=5)
    app = str(uuid.uuid4())
    body = {"application_id": app, "kind": "kandas", "region": PAVLODAR, "year": 2026}
    headers = token("quota:reserve", region=PAVLODAR) | {"Idempotency-Key": "k1"}
    first = await client.post("/v1/reservations", json=body | {"persons": 4}, headers=headers)
    assert first.json()["outcome"] == "reserved"
    replay = await client.post("/v1/reservations", json=body | {"persons": 4}, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    again = await client.post("/v1/reservations", json=body | {"persons": 4}, headers=ADMIN)
    assert (again.json()["outcome"], again.json()["persons"]) == ("reserved", 4)
    other = await client.post("/v1/reservations", json=body | {"persons": 1}, headers=ADMIN)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    problem = other.json()
    assert problem["type"].endswith("/reservation-conflict")
    assert problem["errors"] == [{"field": "persons", "message": problem["detail"]}]
    assert problem["fields"] == ["persons"]
    released = await client.post(f"/v1/reservations/{app}/release", headers=ADMIN)
    assert released.json()["status"] == "released"
    elsewhere = token("quota:reserve", region=NORTH_KAZ)
    refused = await client.post("/v1/reservations", json=body | {"persons": 1}, headers=elsewhere)
    assert refused.status_code == 403


async def test_territories_list_and_exclusion(client: httpx.AsyncClient) -> None:
    created = await territory(client, NORTH_KAZ, "migrant")
    excluded = await client.post(
        f"/v1/territories/{created['id']}/exclusion",
        json={"effective_from": "2026-06-01", "decision": "Decree 9"},
        headers=ADMIN,
    )
    assert excluded.json()["status"] == "excluded"
    again = await client.post(
        f"/v1/territories/{created['id']}/exclusion",
        json={"effective_from": "2026-06-01", "decision": "Decree 9"},
        headers=ADMIN,
    )
    assert again.status_code == 409
    listed = await client.get("/v1/territories", params={"region": NORTH_KAZ}, headers=ADMIN)
    assert len(listed.json()["items"]) == 1


async def test_text_holding_nul_is_refused_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    """Found by fuzzing: PostgreSQL's text cannot store U+0000, and the INSERT was a 500."""
    body = {"kato": PAVLODAR, "kind": "kandas", "effective_from": "2026-01-01",
            "decision": "Decree\x007"}  # fmt: skip
    before = await schema.scalar("SELECT count(*) FROM territories")
    response = await client.post("/v1/territories", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["decision"]
    assert await schema.scalar("SELECT count(*) FROM territories") == before
    refused = await quota(client, reference="order\x0012")
    assert [e["field"] for e in refused.json()["errors"]] == ["reference"]
    order = await client.post(
        "/v1/quota-orders", params={"order": "12\x00"}, content=ORDER_2026.read_bytes(),
        headers={**ADMIN, "content-type": "text/csv"},
    )  # fmt: skip
    assert order.status_code == 422, order.text
    assert [e["field"] for e in order.json()["errors"]] == ["query.order"]


async def test_importing_the_2026_order_gives_the_national_totals(
    client: httpx.AsyncClient,
) -> None:
    csv = ORDER_2026.read_bytes()
    response = await client.post(
        "/v1/quota-orders", params={"order": "MLSP order 2026"}, content=csv,
        headers=ADMIN | {"Content-Type": "text/csv"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["totals"] == {"kandas": 2281, "migrant": 5997}
    assert len(response.json()["territories"]) == 15
    totals = {}
    for kind in ("kandas", "migrant"):
        page = await client.get(
            "/v1/quotas", params={"kind": kind, "year": 2026, "limit": 50}, headers=ADMIN
        )
        totals[kind] = sum(q["limit"] for q in page.json()["items"])
    assert totals == {"kandas": 2281, "migrant": 5997}


async def test_an_order_with_bad_rows_imports_nothing(client: httpx.AsyncClient) -> None:
    lines = ORDER_2026.read_text().splitlines()
    lines[3] = "2026,kandas,990000000,Nowhere,100"
    lines[5] = "2026,migrant,590000000,North Kazakhstan,-3"
    lines.append(lines[1])
    response = await client.post(
        "/v1/quota-orders", params={"order": "bad"}, content="\n".join(lines).encode(),
        headers=ADMIN | {"Content-Type": "text/csv"},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert [row["line"] for row in response.json()["rows"]] == [4, 6, 17]
    assert (await client.get("/v1/quotas", headers=ADMIN)).json()["items"] == []
    assert (await client.get("/v1/territories", headers=ADMIN)).json()["items"] == []


# --- the authorization matrix ---------------------------------------------------------------

ANY_ID = "00000000-0000-4000-8000-000000000001"
ROUTES = [
    ("GET", "/v1/quotas", "quota:read", None),
    ("GET", f"/v1/quotas/{ANY_ID}", "quota:read", None),
    ("GET", f"/v1/quotas/{ANY_ID}/ledger", "quota:read", None),
    ("GET", f"/v1/quotas/{ANY_ID}/history", "quota:read", None),
    ("POST", "/v1/quotas", "quota:admin", {}),
    ("POST", f"/v1/quotas/{ANY_ID}/adjustments", "quota:admin", {}),
    ("GET", "/v1/territories", "quota:read", None),
    ("POST", "/v1/territories", "quota:admin", {}),
    ("POST", f"/v1/territories/{ANY_ID}/exclusion", "quota:admin", {}),
    ("POST", "/v1/reservations", "quota:reserve", {}),
    ("POST", f"/v1/reservations/{ANY_ID}/release", "quota:reserve", None),
    ("POST", "/v1/quota-orders?order=x", "quota:admin", None),
]
SCOPES = ("quota:read", "quota:admin", "quota:reserve")


async def test_every_route_is_in_the_matrix(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    covered = {
        (m, p.replace(ANY_ID, "{id}").split("?")[0]) for m, p, _, _ in ROUTES
    }  # fmt: skip
    normalized = {(m, _templated(p)) for m, p in documented}
    assert normalized == covered


def _templated(path: str) -> str:
    for name in ("{quota_id}", "{territory_id}", "{application_id}"):
        path = path.replace(name, "{id}")
    return path


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
async def test_authorization_matrix(
    client: httpx.AsyncClient, method: str, path: str, scope: str, body: object
) -> None:
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    for other in SCOPES:
        response = await client.request(method, path, json=body, headers=token(other))
        if other == scope:
            assert response.status_code not in (401, 403), (other, response.text)
        else:
            assert response.status_code == 403, (other, response.text)
    if scope == "quota:admin":
        regional = await client.request(
            method, path, json=body, headers=token(scope, region=ALMATY_CITY)
        )
        assert regional.status_code == 403
