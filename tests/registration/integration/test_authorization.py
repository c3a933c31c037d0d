"""Every route by {no token, wrong scope, wrong region, right token}.

The akimat of North Kazakhstan (590000000) owns the person, residence and application of
each case; the akimat of Kostanay (390000000) is the wrong region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SKO, KOSTANAY = "590000000", "390000000"
READ, WRITE, AUDIT = "registration:read", "registration:write", "registration:audit"


@dataclass
class World:
    person: str
    residence: str
    application: str
    iin: str


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[World], str]
    scope: str
    body: Callable[[World, Any], dict[str, Any] | None] = lambda w, s: None
    params: Callable[[World], dict[str, str]] = lambda w: {}
    ok: int = 200
    wrong_region: int | None = 403  # None: the route is not limited by region


ROUTES = {
    "register person": Route(
        "POST",
        lambda w: "/v1/persons",
        WRITE,
        body=lambda w, s: s.citizen_body(),
        ok=201,
        wrong_region=None,
    ),
    "get person": Route("GET", lambda w: f"/v1/persons/{w.person}", READ),
    "find persons": Route(
        "GET", lambda w: "/v1/persons", READ, params=lambda w: {"iin": w.iin}, wrong_region=None
    ),
    "register residence": Route(
        "POST",
        lambda w: f"/v1/persons/{w.person}/residences",
        WRITE,
        ok=201,
        body=lambda w, s: {
            "kind": "temporary",
            "purpose": "family",
            "valid_from": "2025-01-01",
            "valid_until": "2025-02-01",
            "address": {"kato": "591010000", "street": "Mira", "building": "9"},
        },
    ),
    "end residence": Route(
        "POST",
        lambda w: f"/v1/persons/{w.person}/residences/{w.residence}/end",
        WRITE,
        body=lambda w, s: {"ended_on": "2024-01-01"},
    ),
    "list residences": Route("GET", lambda w: f"/v1/persons/{w.person}/residences", READ),
    "emigration": Route(
        "POST",
        lambda w: f"/v1/persons/{w.person}/emigration",
        WRITE,
        body=lambda w, s: {"destination_country": "RUS", "departed_on": "2025-01-01"},
    ),
    "apply": Route(
        "POST",
        lambda w: "/v1/resettlement-applications",
        WRITE,
        ok=201,
        body=lambda w, s: {
            "applicant_id": w.person,
            "category": "migrant",
            "target_region": SKO,
            "target_year": 2027,
        },
    ),
    "get application": Route(
        "GET", lambda w: f"/v1/resettlement-applications/{w.application}", READ
    ),
    "withdraw": Route(
        "POST", lambda w: f"/v1/resettlement-applications/{w.application}/withdraw", WRITE
    ),
    "list applications": Route(
        "GET", lambda w: "/v1/resettlement-applications", READ, params=lambda w: {"region": SKO}
    ),
    "audit": Route("GET", lambda w: "/v1/audit", AUDIT, params=lambda w: {"person_id": w.person}),
}


async def world(service: Any) -> World:
    sko = service.auth(READ, WRITE, region=SKO)
    body = service.citizen_body()
    person = await service.person(headers=sko, **body)
    residence = (await service.residence(person, headers=sko)).json()["id"]
    application = await service.client.post(
        "/v1/resettlement-applications",
        headers=sko,
        json={
            "applicant_id": person,
            "category": "migrant",
            "target_region": SKO,
            "target_year": 2026,
        },
    )
    assert application.status_code == 201, application.text
    # withdrawn, so that the "apply" case may file a new one for the same applicant
    await service.client.post(
        f"/v1/resettlement-applications/{application.json()['id']}/withdraw", headers=sko
    )
    return World(person, residence, application.json()["id"], body["iin"])


async def call(service: Any, route: Route, w: World, headers: dict[str, str]) -> Any:
    return await service.client.request(
        route.method,
        route.path(w),
        headers=headers,
        json=route.body(w, service),
        params=route.params(w),
    )


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_no_token_is_401(service: Any, name: str) -> None:
    route = ROUTES[name]
    response = await call(service, route, await world(service), {})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_wrong_scope_is_403(service: Any, name: str) -> None:
    route = ROUTES[name]
    others = [s for s in (READ, WRITE, AUDIT) if s != route.scope]
    response = await call(service, route, await world(service), service.auth(*others))
    assert response.status_code == 403, response.text
    assert response.json()["missing_scopes"] == [route.scope]


@pytest.mark.parametrize("name", sorted(ROUTES))
async def test_wrong_region(service: Any, name: str) -> None:
    route = ROUTES[name]
    response = await call(
        service, route, await world(service), service.auth(route.scope, region=KOSTANAY)
    )
    if route.wrong_region is None:
        assert response.status_code in (200, 201), response.text
        if name == "find persons":
            assert response.json()["items"] == []  # not found, not revealed
    else:
        assert response.status_code == route.wrong_region, response.text


@pytest.mark.parametrize("name", sorted(ROUTES))
@pytest.mark.parametrize("region", [SKO, None], ids=["akimat", "nationwide"])
async def test_right_token(service: Any, name: str, region: str | None) -> None:
    route = ROUTES[name]
    w = await world(service)
    if name == "withdraw":  # the world's application is withdrawn already: make an open one
        other = await service.person()
        created = await service.client.post(
            "/v1/resettlement-applications",
            headers=service.auth(),
            json={
                "applicant_id": other,
                "category": "migrant",
                "target_region": SKO,
                "target_year": 2026,
            },
        )
        w.application = created.json()["id"]
    response = await call(service, route, w, service.auth(route.scope, region=region))
    assert response.status_code == route.ok, response.text
