"""The authorization matrix of every route: no token 401, a token without the route's
scope 403, the scope 2xx (monitoring:read reads, monitoring:write loads figures)."""

from __future__ import annotations

import httpx
import pytest
from monitoring.helpers import PAVLODAR, token

pytestmark = pytest.mark.integration

BODY = {"source": "s", "rows": [{"kato": PAVLODAR, "date": "2023-01-01", "total": 1}]}
ROUTES = [
    ("POST", "/v1/statistics/population", "monitoring:write"),
    ("GET", "/v1/statistics/population", "monitoring:read"),
    ("GET", "/v1/indicators?period=2023", "monitoring:read"),
    ("GET", "/v1/indicators.csv?period=2023", "monitoring:read"),
    ("GET", f"/v1/regions/{PAVLODAR}/indicators?period=2023", "monitoring:read"),
    ("GET", f"/v1/regions/{PAVLODAR}/projections?period=2023", "monitoring:read"),
    ("GET", "/v1/alerts", "monitoring:read"),
]
OTHER = {"monitoring:read": "monitoring:write", "monitoring:write": "monitoring:read"}


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
async def test_matrix(client: httpx.AsyncClient, method: str, path: str, scope: str) -> None:
    body = BODY if method == "POST" else None
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    wrong = await client.request(method, path, json=body, headers=token(OTHER[scope]))
    assert wrong.status_code == 403
    assert scope in wrong.json()["detail"]
    other_service = await client.request(method, path, json=body, headers=token("quota:read"))
    assert other_service.status_code == 403
    right = await client.request(method, path, json=body, headers=token(scope))
    assert right.status_code == 200, right.text
    regional = await client.request(method, path, json=body, headers=token(scope, region=PAVLODAR))
    assert regional.status_code == 200, regional.text
