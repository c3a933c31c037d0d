"""Measures (§8) from scripted monitoring.v1 alerts on the real Kafka: an
`outflow-alert-raised` opens one draft measures proposal for the region's akimat, with the
alert's figures and the §8 checklist, whatever the redeliveries; `outflow-alert-cleared` is
noted on it; the akimat fills the checklist, submits, and the ministry approves (no quota
effect, so nothing waits for quota)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from proposals.helpers import NORTH_KAZ, NOW, Clock, akimat, ministry
from proposals.kafka import envelope, handled, produce, running_worker, topic_events
from support.kafka import wait_for
from support.services import ServiceSchema

from koshiqon.common.events import monitoring as m
from koshiqon.proposals.config import ProposalsSettings

pytestmark = pytest.mark.integration

FIGURES = m.OutflowFigures(
    births=9_000, deaths=8_500, natural_increase=500, arrivals_external=300,
    departures_external=1_200, arrivals_internal=2_000, departures_internal=4_100,
    net_departures=3_000, population=530_000,
)  # fmt: skip


@pytest.fixture(scope="module")
async def worker(settings: ProposalsSettings, bootstrap: str, clock: Clock) -> AsyncIterator[str]:
    async with running_worker(settings, bootstrap, now=clock) as group:
        yield group


def raised(alert_id: uuid.UUID) -> m.OutflowAlertRaised:
    return m.OutflowAlertRaised(
        alert_id=alert_id, region=NORTH_KAZ, period=m.AlertPeriod.YEAR,
        period_from=date(2025, 1, 1), period_to=date(2025, 12, 31), figures=FIGURES,
        raised_at=NOW,
    )  # fmt: skip


def cleared(alert_id: uuid.UUID) -> m.OutflowAlertCleared:
    figures = FIGURES.model_copy(update={"departures_internal": 1_000, "net_departures": -100})
    return m.OutflowAlertCleared(
        alert_id=alert_id, region=NORTH_KAZ, period=m.AlertPeriod.YEAR,
        period_from=date(2025, 1, 1), period_to=date(2025, 12, 31), figures=figures,
        cleared_at=NOW,
    )  # fmt: skip


async def for_alert(client: httpx.AsyncClient, alert_id: uuid.UUID) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"type": "measures", "region": NORTH_KAZ, "limit": 200}
    page = (await client.get("/v1/proposals", params=params, headers=ministry())).json()
    return [p for p in page["items"] if p["alert"] and p["alert"]["alert_id"] == str(alert_id)]


async def test_one_draft_per_alert_whatever_the_redeliveries(
    client: httpx.AsyncClient, schema: ServiceSchema, worker: str, bootstrap: str
) -> None:
    alert, other = uuid.uuid4(), uuid.uuid4()
    first = envelope(raised(alert), alert, source="/koshiqon/monitoring")
    events = [first, first, envelope(raised(alert), alert), envelope(raised(other), other)]
    await produce(bootstrap, "monitoring.v1", events)
    await wait_for(handled(schema, events), timeout=60)
    drafts = await for_alert(client, alert)
    assert len(drafts) == 1
    assert len(await for_alert(client, other)) == 1
    draft = drafts[0]
    assert (draft["status"], draft["type"], draft["region"]) == ("draft", "measures", NORTH_KAZ)
    assert draft["alert"]["figures"] == FIGURES.model_dump(mode="json")
    assert [i["measure"] for i in draft["payload"]["checklist"]] == [
        "attract_qualified_labour", "social_adaptation", "vocational_training",
    ]  # fmt: skip
    assert all(i["plan"] == "" and i["done"] is False for i in draft["payload"]["checklist"])
    mine = await client.get(f"/v1/proposals/{draft['id']}", headers=akimat(NORTH_KAZ))
    assert mine.status_code == 200
    opened = await topic_events(bootstrap, "proposals.v1", {draft["id"]}, at_least=1)
    assert [e.name for e in opened] == ["measures-proposal-opened"]
    assert opened[0].data["alert_id"] == str(alert)


async def test_the_clearing_is_noted_and_the_akimat_fills_and_submits_the_measures(
    client: httpx.AsyncClient, schema: ServiceSchema, worker: str, bootstrap: str
) -> None:
    alert = uuid.uuid4()
    opening = envelope(raised(alert), alert)
    await produce(bootstrap, "monitoring.v1", [opening])
    await wait_for(handled(schema, [opening]), timeout=60)
    (draft,) = await for_alert(client, alert)
    pid, headers = draft["id"], akimat(NORTH_KAZ)
    empty = await client.post(f"/v1/proposals/{pid}/submit", headers=headers)
    assert empty.status_code == 422
    assert {e["field"] for e in empty.json()["errors"]} == {"payload.checklist"}
    clearing = [envelope(cleared(alert), alert), envelope(cleared(alert), alert)]
    await produce(bootstrap, "monitoring.v1", clearing)
    await wait_for(handled(schema, clearing), timeout=60)
    noted = (await client.get(f"/v1/proposals/{pid}", headers=headers)).json()
    assert noted["alert"]["cleared_at"] is not None
    assert [h["action"] for h in noted["history"]] == ["create", "alert-cleared"]
    checklist = [{**i, "plan": "Retraining centre in Petropavl"} if i["measure"] ==
                 "vocational_training" else i for i in noted["payload"]["checklist"]]  # fmt: skip
    patched = await client.patch(
        f"/v1/proposals/{pid}", json={"payload": {"checklist": checklist}},
        headers={**headers, "If-Match": f'"{noted["version"]}"'},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert (await client.post(f"/v1/proposals/{pid}/submit", headers=headers)).status_code == 200
    assert (await client.post(f"/v1/proposals/{pid}/review", headers=ministry())).is_success
    done = await client.post(f"/v1/proposals/{pid}/approve", headers=ministry())
    assert (done.json()["status"], done.json()["effect"], done.json()["stuck"]) == (
        "approved", None, False,
    )  # fmt: skip
    sent = await topic_events(bootstrap, "proposals.v1", {pid}, at_least=3)
    assert [e.name for e in sent] == [
        "measures-proposal-opened", "proposal-submitted", "measures-approved",
    ]  # fmt: skip
