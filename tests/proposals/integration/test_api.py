"""The proposals API on the real PostgreSQL (the schema built by the service's migrations),
with a real HTTP server in monitoring's place: filing each type, the validation of outside
input (422 naming the field), the workflow with its history, the amended delta, the 409 of
an illegal transition, If-Match, the lists' filters, and that a region's akimat sees and
changes its own region's proposals only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from proposals.helpers import (
    NORTH_KAZ,
    PAVLODAR,
    Clock,
    akimat,
    labour_quota,
    measures,
    ministry,
    regional_quota,
    territory,
)
from proposals.monitoring_standin import MonitoringStandIn
from support.services import ServiceSchema

pytestmark = pytest.mark.integration


async def file(client: httpx.AsyncClient, body: dict[str, Any], region: str = PAVLODAR) -> Any:
    response = await client.post("/v1/proposals", json=body, headers=akimat(region))
    assert response.status_code == 201, response.text
    return response.json()


async def act(
    client: httpx.AsyncClient,
    proposal_id: str,
    action: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    status: int = 200,
) -> Any:
    response = await client.post(
        f"/v1/proposals/{proposal_id}/{action}", json=body, headers=headers
    )
    assert response.status_code == status, response.text
    return response.json()


def fields(response: httpx.Response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    "body",
    [regional_quota(), labour_quota(), territory(), territory("territory_exclusion"), measures()],
    ids=lambda b: b["type"],
)
async def test_an_akimat_files_a_draft_of_each_type(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    created = await file(client, body)
    assert (created["status"], created["version"], created["type"]) == ("draft", 1, body["type"])
    assert created["payload"] == body["payload"]
    assert created["allowed_actions"] == ["edit", "submit", "withdraw"]
    got = await client.get(f"/v1/proposals/{created['id']}", headers=akimat())
    assert got.headers["etag"] == '"1"'
    assert [h["action"] for h in got.json()["history"]] == ["create"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**regional_quota(), "region": "990000000"}, "region"),
        ({**regional_quota(), "region": "551010000"}, "region"),  # a district, not a region
        (territory(kato=NORTH_KAZ), "payload.kato"),  # outside the token's region
        (territory(kato="12345"), "payload.kato"),
        ({**territory(), "payload": labour_quota()["payload"]}, "payload.kind"),  # wrong type
        (regional_quota(0), "payload.delta"),
        (labour_quota(year=2025), "payload.year"),  # past
        (regional_quota(horizon={"year": 2028}), "payload.horizon.year"),  # not the upcoming
        (regional_quota(horizon={"year_from": 2027, "year_to": 2027}),
         "payload.horizon.year_to"),
        (regional_quota(horizon={"years": 3}), "payload.horizon"),
        (regional_quota(horizon={"year_from": 2027, "year_to": 2032}), "payload.horizon.year_to"),
        (regional_quota(horizon={"year_from": 2025, "year_to": 2027}),
         "payload.horizon.year_from"),
        ({**labour_quota(), "payload": {**labour_quota()["payload"], "delta": True}},
         "payload.delta"),
        ({**measures(), "payload": {"checklist": [{"measure": "parades"}]}},
         "payload.checklist[0].measure"),
        ({**labour_quota(), "documents": [{"number": "1", "title": "x"}]}, "documents[0].date"),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_naming_the_field(
    client: httpx.AsyncClient, schema: ServiceSchema, body: dict[str, Any], field: str
) -> None:
    before = await schema.scalar("SELECT count(*) FROM proposals")
    response = await client.post("/v1/proposals", json=body, headers=akimat())
    assert response.status_code == 422, response.text
    assert field in fields(response)
    assert await schema.scalar("SELECT count(*) FROM proposals") == before  # nothing written


async def test_a_quota_change_goes_through_review_and_is_approved_with_an_amended_delta(
    client: httpx.AsyncClient, monitoring: MonitoringStandIn, clock: Clock
) -> None:
    created = await file(client, regional_quota(50))
    pid = created["id"]
    submitted = await act(client, pid, "submit", akimat(), {"comment": "please"})
    assert submitted["status"] == "submitted"
    assert submitted["evidence"]["status"] == "frozen"
    assert submitted["evidence"]["indicators"]["region"] == PAVLODAR
    assert submitted["evidence"]["retrieved_at"] is not None
    assert monitoring.requests == [f"/v1/regions/{PAVLODAR}/indicators"]
    await act(client, pid, "review", ministry())
    clock.advance(hours=1)
    approved = await act(client, pid, "approve", ministry(), {"delta": 30, "comment": "partly"})
    assert approved["status"] == "approved"
    assert approved["approved_delta"] == 30
    assert approved["effect"]["delta"] == 30
    assert (approved["effect"]["type"], approved["effect"]["year"]) == ("adjust-quota", 2027)
    detail = (await client.get(f"/v1/proposals/{pid}", headers=akimat())).json()
    history = detail["history"]
    assert [h["action"] for h in history] == ["create", "submit", "review", "approve"]
    assert [h["to_status"] for h in history] == ["draft", "submitted", "under_review", "approved"]
    assert history[-1]["details"] == {"filed_delta": 50, "approved_delta": 30}
    assert history[1]["comment"] == "please"
    assert all(h["actor"] and h["at"] for h in history)
    assert detail["payload"]["delta"] == 50  # what the akimat filed stays as filed


async def test_return_edit_and_resubmit_then_reject(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    pid = (await file(client, labour_quota()))["id"]
    await act(client, pid, "submit", akimat())
    await act(client, pid, "review", ministry())
    missing = await client.post(f"/v1/proposals/{pid}/return", json={}, headers=ministry())
    assert missing.status_code == 422
    assert fields(missing) == {"reason"}
    returned = await act(client, pid, "return", ministry(), {"reason": "name the plant"})
    assert returned["allowed_actions"] == ["edit", "withdraw"]
    refused = await act(client, pid, "submit", akimat(), status=409)
    assert (refused["status"], refused["current_status"]) == (409, "returned")
    assert refused["allowed_actions"] == ["edit", "withdraw"]
    patch = {"justification": "The Ekibastuz plant needs 20 specialists"}
    stale = await client.patch(f"/v1/proposals/{pid}", json=patch,
                               headers={**akimat(), "If-Match": '"1"'})  # fmt: skip
    assert stale.status_code == 412, stale.text
    assert stale.json()["current_version"] == returned["version"]
    unconditional = await client.patch(f"/v1/proposals/{pid}", json=patch, headers=akimat())
    assert unconditional.status_code == 428
    edited = await client.patch(
        f"/v1/proposals/{pid}", json=patch,
        headers={**akimat(), "If-Match": f'"{returned["version"]}"'},
    )  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["justification"]) == (
        "edited",
        patch["justification"],
    )
    assert edited.headers["etag"] == f'"{returned["version"] + 1}"'
    await act(client, pid, "submit", akimat())
    await act(client, pid, "review", ministry())
    rejected = await act(client, pid, "reject", ministry(), {"reason": "no budget"})
    assert (rejected["status"], rejected["allowed_actions"]) == ("rejected", [])
    history = (await client.get(f"/v1/proposals/{pid}", headers=ministry())).json()["history"]
    assert [h["action"] for h in history] == [
        "create", "submit", "review", "return", "edit", "submit", "review", "reject",
    ]  # fmt: skip
    assert history[3]["reason"] == "name the plant"
    assert history[-1]["reason"] == "no budget"
    async with schema.engine.connect() as connection:
        rows = (await connection.exec_driver_sql(
            "SELECT value FROM outbox WHERE key = $1", (pid,)
        )).scalars().all()  # fmt: skip
    assert len(rows) == 4  # submitted, returned, submitted, rejected
    written = b"".join(rows).decode()
    for text in ("name the plant", "no budget", "Ekibastuz", "akimat-", "ministry"):
        assert text not in written  # no official, no free text in the events


async def test_an_illegal_transition_names_the_state_and_what_is_allowed(
    client: httpx.AsyncClient,
) -> None:
    pid = (await file(client, territory()))["id"]
    refused = await client.post(f"/v1/proposals/{pid}/approve", headers=ministry())
    assert refused.status_code == 409
    problem = refused.json()
    assert (problem["status"], problem["current_status"], problem["allowed_actions"]) == (
        409,
        "draft",
        ["edit", "submit", "withdraw"],
    )
    assert "draft" in problem["detail"]
    await act(client, pid, "withdraw", akimat())
    again = await client.post(f"/v1/proposals/{pid}/withdraw", headers=akimat())
    assert (again.status_code, again.json()["current_status"]) == (409, "withdrawn")


async def test_an_amended_delta_must_fit_the_proposal(client: httpx.AsyncClient) -> None:
    territorial = (await file(client, territory()))["id"]
    quota = (await file(client, regional_quota()))["id"]
    for pid in (territorial, quota):
        await act(client, pid, "submit", akimat())
        await act(client, pid, "review", ministry())
    no_delta = await client.post(f"/v1/proposals/{territorial}/approve", json={"delta": 5},
                                 headers=ministry())  # fmt: skip
    zero = await client.post(
        f"/v1/proposals/{quota}/approve", json={"delta": 0}, headers=ministry()
    )
    assert (no_delta.status_code, fields(no_delta)) == (422, {"delta"})
    assert (zero.status_code, fields(zero)) == (422, {"delta"})


async def test_an_akimat_sees_and_changes_its_own_region_only(client: httpx.AsyncClient) -> None:
    pid = (await file(client, regional_quota()))["id"]
    other = akimat(NORTH_KAZ)
    assert (await client.get(f"/v1/proposals/{pid}", headers=other)).status_code == 404
    assert (await client.post(f"/v1/proposals/{pid}/submit", headers=other)).status_code == 404
    patched = await client.patch(f"/v1/proposals/{pid}", json={"justification": "x"},
                                 headers={**other, "If-Match": '"1"'})  # fmt: skip
    assert patched.status_code == 404
    listed = await client.get("/v1/proposals", params={"region": PAVLODAR}, headers=other)
    assert listed.status_code == 403
    own = (await client.get("/v1/proposals", headers=other)).json()["items"]
    assert all(p["region"] == NORTH_KAZ for p in own)
    foreign = await client.post(
        "/v1/proposals", json=regional_quota(region=PAVLODAR), headers=other
    )
    assert foreign.status_code == 403
    nationwide = await client.post("/v1/proposals", json=regional_quota(),
                                   headers=ministry("proposals:file"))  # fmt: skip
    assert nationwide.status_code == 403
    assert (await client.post(f"/v1/proposals/{pid}/submit", headers=akimat())).status_code == 200
    decided_by_akimat = await client.post(
        f"/v1/proposals/{pid}/review", headers=akimat(PAVLODAR, "proposals:decide")
    )
    assert decided_by_akimat.status_code == 403


async def test_overdue_proposals_are_listed(client: httpx.AsyncClient, clock: Clock) -> None:
    pid = (await file(client, labour_quota(region=NORTH_KAZ), NORTH_KAZ))["id"]
    await act(client, pid, "submit", akimat(NORTH_KAZ))
    listed = await client.get("/v1/proposals", params={"overdue": "true"}, headers=ministry())
    assert pid not in {p["id"] for p in listed.json()["items"]}
    clock.advance(days=11)  # the review deadline is 10 days in these tests
    overdue = await client.get(
        "/v1/proposals", params={"overdue": "true", "region": NORTH_KAZ}, headers=ministry()
    )
    items = {p["id"]: p for p in overdue.json()["items"]}
    assert pid in items
    assert items[pid]["overdue"] is True
    assert all(p["status"] in ("submitted", "under_review") for p in items.values())
    await act(client, pid, "review", ministry())
    await act(client, pid, "approve", ministry())
    after = await client.get("/v1/proposals", params={"overdue": "true"}, headers=ministry())
    assert pid not in {p["id"] for p in after.json()["items"]}


async def test_lists_filter_and_page(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await file(client, territory("territory_exclusion", region=NORTH_KAZ,
                                     kato="591010000"), NORTH_KAZ)  # fmt: skip
    seen: list[str] = []
    params: dict[str, Any] = {"type": "territory_exclusion", "status": "draft", "limit": 2}
    while True:
        page = (await client.get("/v1/proposals", params=params, headers=akimat(NORTH_KAZ))).json()
        seen += [p["id"] for p in page["items"]]
        assert all(p["type"] == "territory_exclusion" for p in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) >= 3
    bad = await client.get("/v1/proposals", params={"cursor": "nonsense"}, headers=ministry())
    assert bad.status_code == 422
