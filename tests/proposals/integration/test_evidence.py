"""Evidence (§5 → §6) against a real HTTP server in monitoring's place: at submission the
region's indicators are fetched and frozen with their retrieval time; when monitoring times
out or answers 5xx (after the retries) the submission still succeeds with the evidence
pending, and the worker's follow-up freezes it once monitoring answers again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from proposals.helpers import NOW, PAVLODAR, Clock, akimat, labour_quota, ministry
from proposals.monitoring_standin import MonitoringStandIn, indicators_of

from koshiqon.common import kz
from koshiqon.proposals.bus import Bus
from koshiqon.proposals.entrypoints.scheduler import FollowUp

pytestmark = pytest.mark.integration

INDICATORS = f"/v1/regions/{PAVLODAR}/indicators"


async def submitted(client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post("/v1/proposals", json=labour_quota(), headers=akimat())
    assert created.status_code == 201, created.text
    response = await client.post(f"/v1/proposals/{created.json()['id']}/submit", headers=akimat())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_indicators_are_frozen_at_submission(
    client: httpx.AsyncClient, monitoring: MonitoringStandIn, clock: Clock
) -> None:
    proposal = await submitted(client)
    assert proposal["evidence"] == {
        "status": "frozen",
        "retrieved_at": clock.now.isoformat().replace("+00:00", "Z"),
        "indicators": indicators_of(PAVLODAR),
    }
    assert monitoring.requests == [INDICATORS]
    # the last full year: monitoring refuses the request without a period (422)
    assert monitoring.queries == [{"period": str(kz.kz_year(datetime.now(UTC)) - 1)}]


@pytest.mark.parametrize("mode", ["slow", "error"])
async def test_monitoring_away_leaves_the_evidence_pending_after_the_retries(
    client: httpx.AsyncClient, monitoring: MonitoringStandIn, mode: str
) -> None:
    monitoring.mode, monitoring.delay = mode, 1.0  # the client's timeout is 0.3 s here
    proposal = await submitted(client)
    assert proposal["status"] == "submitted"
    assert proposal["evidence"] == {"status": "pending", "retrieved_at": None, "indicators": None}
    assert monitoring.requests == [INDICATORS] * 3  # one attempt and two retries


async def test_an_answer_that_is_not_a_server_error_is_not_retried(
    client: httpx.AsyncClient, monitoring: MonitoringStandIn
) -> None:
    created = await client.post(
        "/v1/proposals", json=labour_quota(region="590000000"), headers=akimat("590000000")
    )
    pid = created.json()["id"]
    monitoring.mode = "missing"  # the stand-in then answers 404
    answered = await client.post(f"/v1/proposals/{pid}/submit", headers=akimat("590000000"))
    assert answered.json()["evidence"]["status"] == "pending"
    assert len(monitoring.requests) == 1


async def test_the_worker_freezes_pending_evidence_once_monitoring_answers(
    client: httpx.AsyncClient, monitoring: MonitoringStandIn, bus: Bus, clock: Clock
) -> None:
    monitoring.mode = "error"
    pid = (await submitted(client))["id"]
    follow_up = FollowUp(bus)
    await follow_up.run_once()  # monitoring still away: stays pending
    still = (await client.get(f"/v1/proposals/{pid}", headers=ministry())).json()
    assert still["evidence"]["status"] == "pending"
    monitoring.mode = "ok"
    clock.advance(minutes=5)
    frozen, _ = await follow_up.run_once()
    assert frozen >= 1
    detail = (await client.get(f"/v1/proposals/{pid}", headers=ministry())).json()
    assert detail["evidence"]["status"] == "frozen"
    assert detail["evidence"]["indicators"] == indicators_of(PAVLODAR)
    assert detail["evidence"]["retrieved_at"] != NOW.isoformat()
    assert [h["action"] for h in detail["history"]] == ["create", "submit", "freeze-evidence"]
    monitoring.requests.clear()
    await follow_up.run_once()
    assert INDICATORS not in monitoring.requests  # nothing left pending for it
