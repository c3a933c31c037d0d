"""Regional rules (§2) over the API on the real PostgreSQL: the akimat drafts versions, the
maslikhat's approval (decision number and date) puts one in force and supersedes the one
before, earlier versions stay readable, and two versions' difference is shown."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from proposals.helpers import ALMATY_CITY, NORTH_KAZ, akimat, ministry
from support.services import ServiceSchema

pytestmark = pytest.mark.integration

REGION = ALMATY_CITY
BASE = f"/v1/regions/{REGION}/rules"
TEXT_1 = "## Purpose\n\nRegulate migration in the city.\n\n## Quotas\n\nAs the order says.\n"
TEXT_2 = "## Purpose\n\nRegulate migration in the city.\n\n## Quotas\n\nReviewed every year.\n"


async def draft(client: httpx.AsyncClient, title: str, text: str) -> dict[str, Any]:
    response = await client.post(BASE, json={"title": title, "text": text}, headers=akimat(REGION))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def approve(client: httpx.AsyncClient, rules_id: str, number: str) -> httpx.Response:
    body = {"decision_number": number, "decision_date": "2026-02-20"}
    return await client.post(f"{BASE}/{rules_id}/approve", json=body, headers=akimat(REGION))


async def test_versions_approval_supersession_and_diff(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    first = await draft(client, "Rules of Almaty", TEXT_1)
    second = await draft(client, "Rules of Almaty", TEXT_2)
    assert (first["version"], second["version"], first["status"]) == (1, 2, "draft")
    approved = await approve(client, first["id"], "12/345-VII")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decision_number"]) == (
        "approved", "12/345-VII",
    )  # fmt: skip
    assert (await approve(client, second["id"], "14/2-VIII")).status_code == 200
    listed = (await client.get(BASE, headers=ministry())).json()
    assert listed["in_force"] == second["id"]
    assert {r["version"]: r["status"] for r in listed["items"]} == {2: "approved",
                                                                    1: "superseded"}  # fmt: skip
    old = (await client.get(f"{BASE}/{first['id']}", headers=akimat(REGION))).json()
    assert (old["text"], old["status"]) == (TEXT_1, "superseded")
    again = await approve(client, first["id"], "x")
    assert (again.status_code, again.json()["current_status"]) == (409, "superseded")
    diff = (await client.get(f"{BASE}/{second['id']}/diff", params={"against": first["id"]},
                             headers=ministry())).json()  # fmt: skip
    assert (diff["from_version"], diff["to_version"]) == (1, 2)
    assert "-As the order says.\n" in diff["diff"]
    assert "+Reviewed every year.\n" in diff["diff"]
    assert "--- version 1" in diff["diff"]
    rows = await schema.scalar(
        "SELECT count(*) FROM outbox WHERE event_type = "
        "'kz.migration.proposals.regional-rules-approved.v1'"
    )
    assert rows == 2
    async with schema.engine.connect() as connection:
        value = (await connection.exec_driver_sql(
            "SELECT value FROM outbox WHERE event_type LIKE '%regional-rules-approved%' "
            "ORDER BY id DESC LIMIT 1"
        )).scalar_one()  # fmt: skip
    event = orjson.loads(value)["data"]
    assert (event["supersedes"], event["version"]) == (first["id"], 2)


async def test_rules_are_the_regions_own(client: httpx.AsyncClient) -> None:
    body = {"title": "Rules", "text": "Text"}
    other = await client.post(BASE, json=body, headers=akimat(NORTH_KAZ))
    assert other.status_code == 403
    nationwide = await client.post(BASE, json=body, headers=ministry("proposals:file"))
    assert nationwide.status_code == 403
    unknown = await client.post("/v1/regions/990000000/rules", json=body, headers=akimat(REGION))
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (422, "kato")
    district = await client.get("/v1/regions/751010000/rules", headers=ministry())
    assert district.status_code == 422
    assert {e["field"] for e in district.json()["errors"]} == {"kato"}
    mine = await draft(client, "Rules", "Text")
    elsewhere = await client.get(f"/v1/regions/{NORTH_KAZ}/rules/{mine['id']}", headers=ministry())
    assert elsewhere.status_code == 404
    hidden = await client.get(f"{BASE}/{mine['id']}", headers=akimat(NORTH_KAZ))
    assert hidden.status_code == 403
    decision = {"decision_number": "1", "decision_date": "2030-01-01"}
    future = await client.post(
        f"{BASE}/{mine['id']}/approve", json=decision, headers=akimat(REGION)
    )
    assert (future.status_code, future.json()["errors"][0]["field"]) == (422, "decision_date")
