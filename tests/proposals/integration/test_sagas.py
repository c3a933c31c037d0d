"""The proposal-effect saga on the real Kafka with quota's real contracts: the proposals
worker (consumer, follow-up) runs; the approval reaches proposals.v1 through the outbox
relay; quota's answers (quota-adjusted, territory-designated, proposal-effect-refused),
produced by a raw producer as the quota service would, turn the proposal applied or
application_failed with quota's reason; duplicates and answers out of order have no second
effect; an unanswered approval is stuck, listed, counted and sent again.

The relay runs only once a test's scripted answers are handled: a quota service running on
the same broker (make up, another test) would otherwise answer the approvals first. Its
late answers are then answers out of order, which change nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from proposals.helpers import (
    NOW,
    PAVLODAR,
    PAVLODAR_DISTRICT,
    Clock,
    akimat,
    ministry,
    regional_quota,
    territory,
)
from proposals.kafka import (
    envelope,
    handled,
    produce,
    running_relay,
    running_worker,
    topic_events,
)
from proposals.monitoring_standin import MonitoringStandIn
from support.kafka import wait_for
from support.services import ServiceSchema

from koshiqon.common.events import quota as q
from koshiqon.proposals.bus import Bus
from koshiqon.proposals.config import ProposalsSettings
from koshiqon.proposals.entrypoints.scheduler import FollowUp

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(schema: ServiceSchema, standin: MonitoringStandIn) -> ProposalsSettings:
    return ProposalsSettings(
        database_url=schema.dsn, database_schema=schema.schema, environment="test",
        monitoring_url=standin.url, evidence_timeout_seconds=0.3, stuck_after_seconds=600,
        worker_interval_seconds=3600,  # the tests run the follow-up themselves
    )  # fmt: skip


@pytest.fixture(scope="module")
async def worker(settings: ProposalsSettings, bootstrap: str, clock: Clock) -> AsyncIterator[str]:
    async with running_worker(settings, bootstrap, now=clock, relay=False) as group:
        yield group


async def approved(client: httpx.AsyncClient, body: dict[str, Any], **approval: Any) -> str:
    created = await client.post("/v1/proposals", json=body, headers=akimat())
    pid: str = created.json()["id"]
    for action, headers in (("submit", akimat()), ("review", ministry())):
        assert (await client.post(f"/v1/proposals/{pid}/{action}", headers=headers)).is_success
    response = await client.post(f"/v1/proposals/{pid}/approve", json=approval, headers=ministry())
    assert response.status_code == 200, response.text
    return pid


def adjusted(pid: str, *, delta: int = 30) -> q.QuotaAdjusted:
    return q.QuotaAdjusted(
        quota_id=uuid.uuid4(), kind="kandas", region=PAVLODAR, year_from=2027, year_to=2027,
        previous_limit=100, limit=100 + delta, delta=delta, reason="more arrivals",
        reference=f"proposal {pid}", proposal_id=uuid.UUID(pid), adjusted_at=NOW,
    )  # fmt: skip


def refused(pid: str, reason: str = "below_used") -> q.ProposalEffectRefused:
    return q.ProposalEffectRefused(
        proposal_id=uuid.UUID(pid), region=PAVLODAR, effect="adjust-quota",
        reason=q.RefusalReason(reason), detail="the limit cannot go below 80 used", refused_at=NOW,
    )  # fmt: skip


async def status_of(client: httpx.AsyncClient, pid: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/v1/proposals/{pid}", headers=ministry())).json()
    return body


async def answered(
    client: httpx.AsyncClient, schema: ServiceSchema, bootstrap: str, events: list[Any]
) -> None:
    await produce(bootstrap, "quota.v1", events)
    await wait_for(handled(schema, events), timeout=60)


async def test_an_approval_applied_by_quota_ends_applied_once(
    client: httpx.AsyncClient, schema: ServiceSchema, worker: str, bootstrap: str,
    settings: ProposalsSettings,
) -> None:  # fmt: skip
    pid = await approved(client, regional_quota(50), delta=30)
    answer = envelope(adjusted(pid), uuid.uuid4())
    again = envelope(adjusted(pid), uuid.uuid4())  # a repeat under a new event id
    # a refusal arriving after the answer was handled (its key is the proposal, the answer's
    # the quota: another partition, so it is sent once the answer is in)
    late_refusal = envelope(refused(pid), pid)
    await answered(client, schema, bootstrap, [answer, answer, again])
    await answered(client, schema, bootstrap, [late_refusal])
    proposal = await status_of(client, pid)
    assert proposal["status"] == "applied"
    assert [h["action"] for h in proposal["history"]].count("apply") == 1
    assert proposal["history"][-1]["details"]["limit"] == 130
    assert proposal["failure"] is None
    async with running_relay(settings):
        sent = await topic_events(bootstrap, "proposals.v1", {pid}, at_least=3)
    assert [e.name for e in sent] == ["proposal-submitted", "proposal-approved",
                                      "proposal-applied"]  # fmt: skip
    approval = sent[1].data
    assert (approval["effect"]["delta"], approval["filed_delta"]) == (30, 50)
    assert (approval["region"], approval["type"]) == (PAVLODAR, "regional_quota_change")


async def test_a_refusal_ends_application_failed_with_quotas_reason(
    client: httpx.AsyncClient, schema: ServiceSchema, worker: str, bootstrap: str,
    settings: ProposalsSettings,
) -> None:  # fmt: skip
    pid = await approved(client, regional_quota(-500))
    first = envelope(refused(pid), pid)
    await answered(client, schema, bootstrap, [first, first, envelope(adjusted(pid), pid)])
    proposal = await status_of(client, pid)
    assert proposal["status"] == "application_failed"
    assert proposal["failure"] == {
        "reason": "below_used", "detail": "the limit cannot go below 80 used",
    }  # fmt: skip
    async with running_relay(settings):
        sent = await topic_events(bootstrap, "proposals.v1", {pid}, at_least=3)
    failed = [e for e in sent if e.name == "proposal-application-failed"]
    assert len(failed) == 1
    assert failed[0].data["reason"] == "below_used"


async def test_a_designation_answer_applies_a_territory_proposal(
    client: httpx.AsyncClient, schema: ServiceSchema, worker: str, bootstrap: str
) -> None:
    pid = await approved(client, territory())
    effect = (await status_of(client, pid))["effect"]
    assert (effect["type"], effect["kato"], effect["kinds"]) == (
        "designate-territory", PAVLODAR_DISTRICT, ["kandas"],
    )  # fmt: skip
    designated = q.TerritoryDesignated(
        territory_id=uuid.uuid4(), kato=PAVLODAR_DISTRICT, region=PAVLODAR, kind="kandas",
        effective_from=date(2026, 6, 1), decision=effect["decision"],
        proposal_id=uuid.UUID(pid), designated_at=NOW,
    )  # fmt: skip
    await answered(client, schema, bootstrap, [envelope(designated, uuid.uuid4())])
    assert (await status_of(client, pid))["status"] == "applied"


async def test_an_answer_for_a_proposal_not_awaiting_one_changes_nothing(
    client: httpx.AsyncClient, schema: ServiceSchema, worker: str, bootstrap: str
) -> None:
    created = await client.post("/v1/proposals", json=regional_quota(), headers=akimat())
    pid = created.json()["id"]
    unknown = str(uuid.uuid4())
    events = [envelope(adjusted(pid), pid), envelope(refused(unknown), unknown)]
    await answered(client, schema, bootstrap, events)
    proposal = await status_of(client, pid)
    assert (proposal["status"], proposal["version"]) == ("draft", 1)


async def test_an_unanswered_approval_is_stuck_listed_counted_and_sent_again(
    client: httpx.AsyncClient, schema: ServiceSchema, worker: str, bootstrap: str, bus: Bus,
    clock: Clock, settings: ProposalsSettings,
) -> None:  # fmt: skip
    pid = await approved(client, regional_quota(10))
    params = {"stuck": "true", "region": PAVLODAR}
    listed = await client.get("/v1/proposals", params=params, headers=ministry())
    assert pid not in {p["id"] for p in listed.json()["items"]}
    clock.advance(minutes=11)  # stuck after 600 s in this module
    stuck = await client.get("/v1/proposals", params=params, headers=ministry())
    assert {p["id"]: p["stuck"] for p in stuck.json()["items"]}.get(pid) is True
    republished_before = (
        REGISTRY.get_sample_value("koshiqon_proposals_approvals_republished_total") or 0.0
    )
    _, sent_again = await FollowUp(bus).run_once()
    assert sent_again >= 1
    assert (REGISTRY.get_sample_value("koshiqon_proposals_stuck") or 0) >= 1
    republished = REGISTRY.get_sample_value("koshiqon_proposals_approvals_republished_total")
    assert (republished or 0) >= republished_before + 1
    _, none_yet = await FollowUp(bus).run_once()  # sent once per stuck interval
    assert none_yet == 0
    await answered(client, schema, bootstrap, [envelope(adjusted(pid, delta=10), pid)])
    proposal = await status_of(client, pid)
    assert (proposal["status"], proposal["stuck"]) == ("applied", False)
    assert "republish" in [h["action"] for h in proposal["history"]]
    async with running_relay(settings):
        sent = await topic_events(bootstrap, "proposals.v1", {pid}, at_least=4)
    approvals = [e for e in sent if e.name == "proposal-approved"]
    assert len(approvals) == 2
    assert approvals[0].data["effect"] == approvals[1].data["effect"]
    assert approvals[0].id != approvals[1].id
