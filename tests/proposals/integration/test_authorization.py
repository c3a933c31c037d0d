"""The authorization matrix over every route of the proposals API: no token is 401; a token
without the route's scope is 403 naming it; with it, the route is reached (neither 401 nor
403). The matrix must name every operation of the OpenAPI document, so a route added
without a row here fails this test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from proposals.helpers import PAVLODAR, akimat, bearer, regional_quota

pytestmark = pytest.mark.integration

SCOPES = ("proposals:file", "proposals:decide", "proposals:read")
FILE, DECIDE, READ = SCOPES
RULES = "/v1/regions/{kato}/rules"

# method, path template, scope, body, whose token reaches it (akimat or ministry)
MATRIX: list[tuple[str, str, str, Any, str]] = [
    ("POST", "/v1/proposals", FILE, regional_quota(), "akimat"),
    ("GET", "/v1/proposals", READ, None, "akimat"),
    ("GET", "/v1/proposals/{proposal_id}", READ, None, "akimat"),
    ("PATCH", "/v1/proposals/{proposal_id}", FILE, {"justification": "more"}, "akimat"),
    ("POST", "/v1/proposals/{proposal_id}/submit", FILE, None, "akimat"),
    ("POST", "/v1/proposals/{proposal_id}/withdraw", FILE, {"comment": "no"}, "akimat"),
    ("POST", "/v1/proposals/{proposal_id}/review", DECIDE, None, "ministry"),
    ("POST", "/v1/proposals/{proposal_id}/approve", DECIDE, {"delta": 5}, "ministry"),
    ("POST", "/v1/proposals/{proposal_id}/reject", DECIDE, {"reason": "no"}, "ministry"),
    ("POST", "/v1/proposals/{proposal_id}/return", DECIDE, {"reason": "more"}, "ministry"),
    ("GET", RULES, READ, None, "akimat"),
    ("POST", RULES, FILE, {"title": "Rules", "text": "Text"}, "akimat"),
    ("GET", RULES + "/{rules_id}", READ, None, "akimat"),
    ("GET", RULES + "/{rules_id}/diff", READ, None, "akimat"),
    ("POST", RULES + "/{rules_id}/approve", FILE,
     {"decision_number": "1", "decision_date": "2026-01-10"}, "akimat"),
]  # fmt: skip


def caller(who: str, *scopes: str) -> dict[str, str]:
    return akimat(PAVLODAR, *scopes) if who == "akimat" else bearer(*scopes, subject="ministry")


async def test_the_matrix_names_every_operation(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert operations == {(method, path) for method, path, *_ in MATRIX}


@pytest.mark.parametrize(("method", "path", "scope", "body", "who"), MATRIX,
                         ids=[f"{m} {p}" for m, p, *_ in MATRIX])  # fmt: skip
async def test_every_route_takes_its_scope(
    client: httpx.AsyncClient, method: str, path: str, scope: str, body: Any, who: str
) -> None:
    created = await client.post("/v1/proposals", json=regional_quota(), headers=akimat())
    rules = await client.post(f"/v1/regions/{PAVLODAR}/rules", headers=akimat(),
                              json={"title": "Rules", "text": "Text"})  # fmt: skip
    rules_id = rules.json()["id"]
    url = path.format(proposal_id=created.json()["id"], kato=PAVLODAR, rules_id=rules_id)
    params = {"against": rules_id} if url.endswith("/diff") else None
    extra = {"If-Match": '"1"'} if method == "PATCH" else {}

    async def call(headers: dict[str, str]) -> httpx.Response:
        return await client.request(method, url, json=body, params=params,
                                    headers={**headers, **extra})  # fmt: skip

    anonymous = await call({})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].lower().startswith("bearer")
    lacking = await call(caller(who, *(s for s in SCOPES if s != scope)))
    assert lacking.status_code == 403, lacking.text
    assert lacking.json()["missing_scopes"] == [scope]
    allowed = await call(caller(who, scope))
    assert allowed.status_code not in (401, 403), allowed.text
    assert allowed.status_code < 500
