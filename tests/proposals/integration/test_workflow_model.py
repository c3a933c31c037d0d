"""The workflow as a hypothesis state machine over the API, on the real PostgreSQL, against a
simple model: any sequence of filing, editing (with a current or a stale If-Match), the
workflow's actions by the proposal's akimat, another region's akimat or the ministry, and
quota's answers. After every step each proposal's state is the model's, no sequence reaches
a state outside the workflow, the history holds every transition in order (nothing lost),
and another region's akimat neither sees nor changes it."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
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
from support.http import served
from support.services import migrated_schema

from koshiqon.proposals.bootstrap import MIGRATIONS, build_app, monitoring_client, sql_bus
from koshiqon.proposals.bus import Bus
from koshiqon.proposals.config import ProposalsSettings
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain.model import TRANSITIONS, Action, Status

pytestmark = pytest.mark.integration

OTHER = {PAVLODAR: NORTH_KAZ, NORTH_KAZ: PAVLODAR}
FILER = {"edit", "submit", "withdraw"}
DECIDER = {"review", "approve", "reject", "return"}
BODIES = {
    "regional_quota_change": regional_quota,
    "foreign_labour_quota_change": labour_quota,
    "measures": measures,
}


@dataclass
class Modelled:
    region: str
    type: str
    status: str = "draft"
    version: int = 1
    filled: bool = True  # a measures proposal's checklist has a plan: it may be submitted
    transitions: list[str] = field(default_factory=lambda: ["create"])


def body_of(kind: str, region: str) -> dict[str, Any]:
    if kind == "territory_assignment":
        return territory(region=region, kato=f"{region[:2]}1010000")
    body: dict[str, Any] = BODIES[kind](region=region)  # type: ignore[operator]
    return body


class WorkflowMachine(RuleBasedStateMachine):
    loop: ClassVar[asyncio.AbstractEventLoop]
    client: ClassVar[httpx.AsyncClient]
    bus: ClassVar[Bus]
    proposals = Bundle("proposals")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, Modelled] = {}

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.loop.run_until_complete(self.client.request(method, url, **kwargs))
        assert response.status_code < 500, response.text
        return response

    def next_status(self, m: Modelled, action: str) -> str | None:
        target = TRANSITIONS.get(Status(m.status), {}).get(Action(action))
        if action == "submit" and m.type == "measures" and not m.filled:
            return None if target is None else "refused"  # an empty checklist: 422
        return None if target is None else target.value

    @rule(target=proposals, region=st.sampled_from([PAVLODAR, NORTH_KAZ]),
          kind=st.sampled_from([*BODIES, "territory_assignment"]))  # fmt: skip
    def file(self, region: str, kind: str) -> str:
        body = body_of(kind, region)
        response = self.call("POST", "/v1/proposals", json=body, headers=akimat(region))
        assert response.status_code == 201, response.text
        pid: str = response.json()["id"]
        checklist = body["payload"].get("checklist", [])
        filled = kind != "measures" or any(item["plan"].strip() for item in checklist)
        self.model[pid] = Modelled(region, kind, filled=filled)
        return pid

    @rule(pid=proposals, who=st.sampled_from(["own", "other", "ministry"]),
          action=st.sampled_from(sorted(FILER - {"edit"} | DECIDER)))  # fmt: skip
    def act(self, pid: str, who: str, action: str) -> None:
        m = self.model[pid]
        headers = {"own": akimat(m.region), "other": akimat(OTHER[m.region]),
                   "ministry": ministry()}[who]  # fmt: skip
        body = {"reason": "because"} if action in ("reject", "return") else {"comment": "c"}
        response = self.call("POST", f"/v1/proposals/{pid}/{action}", json=body, headers=headers)
        if (action in FILER) != (who != "ministry"):  # an akimat's token cannot decide
            assert response.status_code == 403
            return
        if who == "other":
            assert response.status_code == 404  # another region's proposal does not exist
            return
        target = self.next_status(m, action)
        if target is None:
            assert response.status_code == 409, response.text
            problem = response.json()
            assert (problem["status"], problem["current_status"]) == (409, m.status)
            assert set(problem["allowed_actions"]) == {
                a.value for a in TRANSITIONS.get(Status(m.status), {})
                if a.value in FILER | DECIDER
            }  # fmt: skip
        elif target == "refused":
            assert response.status_code == 422
        else:
            assert response.status_code == 200, response.text
            m.status, m.version = target, m.version + 1
            m.transitions.append(action)

    @rule(pid=proposals, who=st.sampled_from(["own", "other"]), stale=st.booleans())
    def edit(self, pid: str, who: str, stale: bool) -> None:
        m = self.model[pid]
        region = m.region if who == "own" else OTHER[m.region]
        version = m.version - 1 if stale else m.version
        response = self.call("PATCH", f"/v1/proposals/{pid}",
                             json={"justification": f"edit {uuid.uuid4().hex[:6]}"},
                             headers={**akimat(region), "If-Match": f'"{version}"'})  # fmt: skip
        target = self.next_status(m, "edit")
        if who == "other":
            assert response.status_code == 404
        elif target is None:
            assert response.status_code == 409
        elif stale:
            assert response.status_code == 412
        else:
            assert response.status_code == 200, response.text
            m.status, m.version = target, m.version + 1
            m.transitions.append("edit")

    @rule(pid=proposals, applied=st.booleans())
    def quota_answers(self, pid: str, applied: bool) -> None:
        m = self.model[pid]
        command: Any = (
            c.RecordEffectApplied(proposal_id=uuid.UUID(pid), details={}, actor=c.WORKER)
            if applied
            else c.RecordEffectRefused(proposal_id=uuid.UUID(pid), reason="no_quota",
                                       detail="no quota yet", actor=c.WORKER)
        )  # fmt: skip
        changed = self.loop.run_until_complete(self.bus.handle(command))
        awaits = m.status == "approved" and m.type != "measures"
        assert changed is awaits
        if awaits:
            m.status = "applied" if applied else "application_failed"
            m.version += 1
            m.transitions.append("apply" if applied else "fail")

    @invariant()
    def the_api_shows_the_model(self) -> None:
        for pid, m in self.model.items():
            got = self.call("GET", f"/v1/proposals/{pid}", headers=akimat(m.region)).json()
            assert (got["status"], got["version"]) == (m.status, m.version)
            assert got["status"] in {s.value for s in Status}
            history = got["history"]
            assert [h["action"] for h in history] == m.transitions
            chain = [None, *(h["to_status"] for h in history)]
            assert [h["from_status"] for h in history] == chain[:-1]
            hidden = self.call("GET", f"/v1/proposals/{pid}", headers=akimat(OTHER[m.region]))
            assert hidden.status_code == 404

    @invariant()
    def an_akimat_lists_its_own_region_only(self) -> None:
        for region in (PAVLODAR, NORTH_KAZ):
            page = self.call("GET", "/v1/proposals", params={"limit": 200},
                             headers=akimat(region)).json()  # fmt: skip
            assert {p["region"] for p in page["items"]} <= {region}


def test_no_sequence_of_calls_breaks_the_workflow(admin_database_url: str) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()

    async def start() -> tuple[httpx.AsyncClient, Bus]:
        schema = await stack.enter_async_context(migrated_schema(admin_database_url, MIGRATIONS))
        monitoring = MonitoringStandIn()
        await monitoring.start()
        stack.push_async_callback(monitoring.stop)
        settings_ = ProposalsSettings(
            database_url=schema.dsn, database_schema=schema.schema, environment="test",
            monitoring_url=monitoring.url, evidence_timeout_seconds=0.3,
        )  # fmt: skip
        clock = Clock()
        client = await stack.enter_async_context(served(build_app(settings_, now=clock)))
        evidence = monitoring_client(settings_)
        stack.push_async_callback(evidence.aclose)
        return client, sql_bus(schema.engine, evidence=evidence, now=clock)

    try:
        WorkflowMachine.loop = loop
        WorkflowMachine.client, WorkflowMachine.bus = loop.run_until_complete(start())
        run_state_machine_as_test(
            WorkflowMachine,
            settings=settings(max_examples=15, stateful_step_count=12, deadline=None,
                              derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.too_slow]),
        )  # fmt: skip
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
