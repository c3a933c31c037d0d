"""Send a demo plan (`demo.build`) through the four public APIs, with development tokens and
an Idempotency-Key on every POST, so that a repeated load replays instead of duplicating.
Something the services already hold from an earlier load (beyond the keys' 24 hours) is
recognised by its answer: 409 for a territory or a figure already loaded, a person found by
IIN.

Resettlement applications and proposals wait for the other services' answers through Kafka
(quota's reservation, quota's application of an approved change, monitoring's §8 alert and
the measures draft proposals opens for it), as a user of the APIs would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from koshiqon.devtools.stack import demo
from koshiqon.devtools.stack.roles import Tokens

CONCURRENCY = 16
ANSWER_TIMEOUT = 90.0  # seconds to wait for another service's answer through Kafka
Progress = Callable[[int], None]


class LoadFailed(Exception):
    """A request the demo needs was refused: its method, path, status and problem."""


@dataclass(frozen=True)
class Urls:
    registration: str
    quota: str
    proposals: str
    monitoring: str


@dataclass
class Report:
    persons: int = 0
    steps: int = 0
    applications: dict[str, int] = field(default_factory=dict)
    proposals: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "persons": self.persons,
            "steps": self.steps,
            "applications": self.applications,
            "proposals": self.proposals,
            "notes": self.notes,
        }


class Loader:
    def __init__(
        self,
        plan: demo.DemoPlan,
        urls: Urls,
        tokens: Tokens,
        *,
        data_dir: Path,
        progress: Progress = lambda _: None,
        client: httpx.AsyncClient,
    ) -> None:
        self.plan = plan
        self.urls = urls
        self.tokens = tokens
        self.data_dir = data_dir
        self.progress = progress
        self.client = client
        self.report = Report()
        self.person_ids: dict[int, str] = {}

    # --- requests ----------------------------------------------------------------------------

    async def post(
        self,
        url: str,
        token: str,
        key: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (),
        method: str = "POST",
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {token}", "Idempotency-Key": key, **(headers or {})}
        for attempt in range(5):
            response = await self.client.request(
                method, url, json=json, content=content, headers=sent
            )
            if response.status_code not in (429, 503) and not (
                response.status_code == 409 and _in_progress(response)
            ):
                break
            await asyncio.sleep(0.2 * 2**attempt)  # the service is busy, or the key in use
        if response.status_code == 422 and _code(response) == "invalid-idempotency-key":
            # the key was spent on another body (seen once after an aborted load): the
            # request is sent again under a key of its own, and the load says so
            self.report.notes.append(f"{method} {url}: its key was spent, sent under another")
            return await self.post(
                url, token, str(uuid.uuid5(demo.NAMESPACE, key)), json=json, content=content,
                headers=headers, accept=accept, method=method,
            )  # fmt: skip
        self.progress(1)
        if response.is_success or response.status_code in accept:
            return response
        raise LoadFailed(f"{method} {url}: {response.status_code} {response.text[:500]}")

    async def get(self, url: str, token: str, **params: Any) -> Any:
        response = await self.client.get(
            url, params=params, headers={"Authorization": f"Bearer {token}"}
        )
        if not response.is_success:
            raise LoadFailed(f"GET {url}: {response.status_code} {response.text[:300]}")
        return response.json()

    # --- the steps ---------------------------------------------------------------------------

    async def run(self) -> Report:
        await self.statistics()
        await self.quotas()
        await self.persons()
        await self.applications()
        await self.proposals()
        await self.measures()
        return self.report

    async def statistics(self) -> None:
        for part in self.plan.statistics:
            body = {"source": part.source, "rows": part.rows}
            await self.post(
                f"{self.urls.monitoring}/v1/statistics/{part.dataset}",
                self.tokens.analyst,
                self.plan.key("statistics", part.dataset, body),
                json=body,
                accept=(409,),  # other figures for these keys are loaded: they are kept
            )

    async def quotas(self) -> None:
        for territory in self.plan.territories:
            await self.post(
                f"{self.urls.quota}/v1/territories",
                self.tokens.ministry,
                self.plan.key("territory", territory),
                json=territory,
                accept=(409,),  # designated already
            )
        have = await self.get(f"{self.urls.quota}/v1/quotas", self.tokens.ministry, year=2026)
        if have["items"]:  # the order is in already (an earlier load, or somebody's own)
            self.progress(1)
            return
        csv = (self.data_dir / "quotas_2026.csv").read_bytes()
        await self.post(
            f"{self.urls.quota}/v1/quota-orders?order=2026-order",
            self.tokens.ministry,
            self.plan.key("quota-order"),
            content=csv,
            headers={"Content-Type": "text/csv"},
        )

    async def persons(self) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(index: int, person: demo.PersonPlan) -> None:
            async with gate:
                self.person_ids[index] = await self._person(index, person)

        await asyncio.gather(*(one(i, p) for i, p in enumerate(self.plan.persons)))
        self.report.persons = len(self.person_ids)

    async def _person(self, index: int, person: demo.PersonPlan) -> str:
        base = f"{self.urls.registration}/v1/persons"
        response = await self.post(
            base, self.tokens.clerk, person.key, json=person.body, accept=(409,)
        )
        if response.status_code == 409:  # entered by an earlier load: its steps are done too
            found = await self.get(base, self.tokens.clerk, iin=person.iin)
            self.progress(len(person.steps) + 1)
            return str(found["items"][0]["id"])
        person_id = str(response.json()["id"])
        for n, step in enumerate(person.steps):
            path = "residences" if step.kind == "residence" else "emigration"
            await self.post(
                f"{base}/{person_id}/{path}",
                self.tokens.clerk,
                self.plan.key("step", person.iin, n, step.body),
                json=step.body,
            )
            self.report.steps += 1
        self.progress(1)  # the bar counts 2 + steps per person
        return person_id

    async def applications(self) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(application: demo.ApplicationPlan) -> None:
            async with gate:
                status = await self._application(application)
            self.report.applications[status] = self.report.applications.get(status, 0) + 1

        await asyncio.gather(*(one(a) for a in self.plan.applications))

    async def _application(self, a: demo.ApplicationPlan) -> str:
        url = f"{self.urls.registration}/v1/resettlement-applications"
        body = {
            "applicant_id": self.person_ids[a.applicant],
            "category": a.category,
            "family_member_ids": [self.person_ids[i] for i in a.family],
            "target_region": a.target_region,
            "target_year": self.plan.today.year,
        }
        response = await self.post(url, self.tokens.clerk, a.key, json=body, accept=(409,))
        if response.status_code == 409:  # an earlier load's application, still open
            found = await self._open_application(url, body)
            if found is None:  # open for another region (a load of another plan): kept
                self.progress(1)
                return "kept from an earlier load"
            app_id = found
        else:
            app_id = response.json()["id"]
        status = await self._settled(
            lambda: self.get(f"{url}/{app_id}", self.tokens.clerk),
            lambda found: found["status"] != "pending_quota",
        )
        if status["status"] == "approved" and a.outcome == "completed":
            residence = {
                "kind": "permanent",
                "address": {"kato": a.target_region, "street": "Resettlers street",
                            "building": "1"},
                "valid_from": a.settle_on.isoformat(),
            }  # fmt: skip
            await self.post(
                f"{self.urls.registration}/v1/persons/{body['applicant_id']}/residences",
                self.tokens.clerk, self.plan.key(a.key, "settle"), json=residence,
                accept=(422,),  # registered since (an earlier load): it stays approved
            )  # fmt: skip
            status = await self.get(f"{url}/{app_id}", self.tokens.clerk)
        elif status["status"] == "approved" and a.outcome == "withdrawn":
            withdrawn = await self.post(
                f"{url}/{app_id}/withdraw", self.tokens.clerk, self.plan.key(a.key, "withdraw")
            )
            status = withdrawn.json()
        else:
            self.progress(1)
        return str(status["status"])

    async def _open_application(self, url: str, body: dict[str, Any]) -> str | None:
        """The applicant's open application in the target region and year (409
        open-application-exists: one open application per applicant)."""
        params: dict[str, Any] = {"region": body["target_region"], "year": body["target_year"],
                                  "limit": 200}  # fmt: skip
        while True:
            page = await self.get(url, self.tokens.clerk, **params)
            for found in page["items"]:
                if found["applicant_id"] == body["applicant_id"] and found["status"] in (
                    "pending_quota",
                    "approved",
                ):
                    return str(found["id"])
            if not page.get("next_cursor"):
                return None
            params["cursor"] = page["next_cursor"]

    async def _settled(
        self,
        read: Callable[[], Awaitable[Any]],
        done: Callable[[Any], bool],
    ) -> Any:
        """`read()` again every half second until `done` says so, or ANSWER_TIMEOUT."""
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while True:
            found = await read()
            if done(found) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.5)

    async def proposals(self) -> None:
        for p in self.plan.proposals:
            status = await self._proposal(p)
            self.report.proposals[status] = self.report.proposals.get(status, 0) + 1

    async def _proposal(self, p: demo.ProposalPlan) -> str:
        base = f"{self.urls.proposals}/v1/proposals"
        akimat = self.tokens.akimat(p.region)
        body = {"type": p.type, "region": p.region, "justification": p.justification,
                "payload": p.payload}  # fmt: skip
        earlier = await self._earlier_proposal(base, akimat, p)
        if earlier is not None:  # an earlier load filed it (its keys may have expired)
            self.progress(1 + len(p.actions))
            return str(earlier["status"])
        proposal = (await self.post(base, akimat, p.key, json=body)).json()
        url = f"{base}/{proposal['id']}"
        for n, action in enumerate(p.actions):
            key = self.plan.key(p.key, n, action)
            if action == "edit":
                patch = {"justification": p.justification + " (amended)"}
                response = await self.post(
                    url, akimat, key, json=patch, method="PATCH",
                    headers={"If-Match": f'"{proposal["version"]}"'},
                )  # fmt: skip
            elif action in ("submit", "withdraw"):
                response = await self.post(f"{url}/{action}", akimat, key)
            elif action in ("reject", "return"):
                reason = {"reason": f"demo: {action}ed for want of figures"}
                response = await self.post(
                    f"{url}/{action}", self.tokens.ministry, key, json=reason
                )
            else:  # review, approve
                response = await self.post(f"{url}/{action}", self.tokens.ministry, key)
            proposal = response.json()
        if proposal["status"] == "approved" and p.outcome != "approved":
            proposal = await self._settled(
                lambda: self.get(url, self.tokens.ministry),
                lambda found: found["status"] != "approved",
            )
        return str(proposal["status"])

    async def _earlier_proposal(
        self, base: str, akimat: str, p: demo.ProposalPlan
    ) -> dict[str, Any] | None:
        params: dict[str, Any] = {"region": p.region, "limit": 200}
        while True:
            page = await self.get(base, akimat, **params)
            for found in page["items"]:
                if found["justification"].startswith(p.justification) and found["type"] == p.type:
                    return dict(found)
            if not page.get("next_cursor"):
                return None
            params["cursor"] = page["next_cursor"]

    async def measures(self) -> None:
        """North Kazakhstan's §8 alert opens a draft measures proposal (monitoring.v1 to
        proposals): the akimat fills its checklist and submits it, the ministry approves it."""
        base = f"{self.urls.proposals}/v1/proposals"
        akimat = self.tokens.akimat(demo.NORTH_KAZAKHSTAN)
        found = await self._settled(
            lambda: self.get(base, akimat, region=demo.NORTH_KAZAKHSTAN),
            lambda page: any(p["type"] == "measures" for p in page["items"]),
        )
        drafts = [p for p in found["items"] if p["type"] == "measures"]
        if not drafts:
            self.report.notes.append("no measures proposal for North Kazakhstan's alert yet")
            return
        proposal = drafts[0]
        url = f"{base}/{proposal['id']}"
        if proposal["status"] == "draft":
            checklist = [
                {"measure": "attract_qualified_labour", "done": False,
                 "plan": "demo: places for qualified workers at the region's employers"},
                {"measure": "social_adaptation", "done": False,
                 "plan": "demo: adaptation centres in Petropavl"},
                {"measure": "vocational_training", "done": False,
                 "plan": "demo: training for young kandases"},
            ]  # fmt: skip
            edited = await self.post(
                url, akimat, self.plan.key("measures", proposal["id"], "edit"), method="PATCH",
                json={"payload": {"checklist": checklist}},
                headers={"If-Match": f'"{proposal["version"]}"'},
            )  # fmt: skip
            proposal = edited.json()
        for action, token in (("submit", akimat), ("review", self.tokens.ministry),
                              ("approve", self.tokens.ministry)):  # fmt: skip
            if action in proposal["allowed_actions"]:
                key = self.plan.key("measures", proposal["id"], action)
                proposal = (await self.post(f"{url}/{action}", token, key)).json()
        status = str(proposal["status"])
        self.report.proposals[status] = self.report.proposals.get(status, 0) + 1


def _in_progress(response: httpx.Response) -> bool:
    """409 because the same key's first request is still being carried out."""
    return _code(response) == "idempotency-key-in-use"


def _code(response: httpx.Response) -> str:
    """The problem's `code` (or the last part of its `type`)."""
    try:
        problem = response.json()
    except ValueError:
        return ""
    if not isinstance(problem, dict):
        return ""
    code = problem.get("code") or str(problem.get("type", "")).rsplit("/", 1)[-1]
    return str(code)


async def load(
    plan: demo.DemoPlan,
    urls: Urls,
    tokens: Tokens,
    *,
    data_dir: Path,
    progress: Progress = lambda _: None,
) -> Report:
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        loader = Loader(plan, urls, tokens, data_dir=data_dir, progress=progress, client=client)
        return await loader.run()
