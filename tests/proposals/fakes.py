"""In-memory fakes of the proposals service's unit of work, its repositories (one fake per
real one, each satisfying its Protocol in koshiqon.proposals.unit_of_work) and its evidence
source, for unit tests that drive the handlers through `bootstrap.bootstrap`. They keep the
rules the SQL keeps: one proposal per alert, history in order, one approved rules version
per region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from support import fakes

from koshiqon.proposals.domain.model import Proposal, Status, Transition
from koshiqon.proposals.domain.rules import RegionalRules, RulesStatus
from koshiqon.proposals.unit_of_work import ProposalRepository, RulesRepository


@dataclass
class State:
    proposals: dict[UUID, Proposal] = field(default_factory=dict)
    history: dict[UUID, list[Transition]] = field(default_factory=dict)
    rules: dict[UUID, RegionalRules] = field(default_factory=dict)


class FakeProposalRepository:
    def __init__(self, state: State) -> None:
        self.state = state

    async def add(self, proposal: Proposal, transition: Transition) -> bool:
        alert = proposal.alert
        if alert is not None and any(
            p.alert is not None and p.alert.alert_id == alert.alert_id
            for p in self.state.proposals.values()
        ):
            return False
        self.state.proposals[proposal.id] = proposal
        await self.record(proposal.id, transition)
        return True

    async def get(self, proposal_id: UUID, *, lock: bool = True) -> Proposal | None:
        return self.state.proposals.get(proposal_id)

    async def by_alert(self, alert_id: UUID) -> Proposal | None:
        return next((p for p in self.state.proposals.values()
                     if p.alert is not None and p.alert.alert_id == alert_id), None)  # fmt: skip

    async def save(self, proposal: Proposal, transition: Transition) -> None:
        self.state.proposals[proposal.id] = proposal
        await self.record(proposal.id, transition)

    async def record(self, proposal_id: UUID, transition: Transition) -> None:
        self.state.history.setdefault(proposal_id, []).append(transition)

    async def history(self, proposal_id: UUID) -> list[Transition]:
        return list(self.state.history.get(proposal_id, []))

    async def pending_evidence(self, *, limit: int) -> list[Proposal]:
        waiting = [p for p in self.state.proposals.values()
                   if p.evidence is not None and p.evidence.status == "pending"]  # fmt: skip
        return waiting[:limit]

    def _stuck(self, approved_before: datetime) -> list[Proposal]:
        return [p for p in self.state.proposals.values()
                if p.status is Status.APPROVED and p.effect is not None
                and p.approved_at is not None and p.approved_at < approved_before]  # fmt: skip

    async def stuck(
        self, *, approved_before: datetime, published_before: datetime, limit: int
    ) -> list[Proposal]:
        found = [p for p in self._stuck(approved_before)
                 if p.published_at is None or p.published_at < published_before]  # fmt: skip
        return found[:limit]

    async def count_stuck(self, *, approved_before: datetime) -> int:
        return len(self._stuck(approved_before))


class FakeRulesRepository:
    def __init__(self, state: State) -> None:
        self.state = state

    async def lock_region(self, region: str) -> None:
        return None

    async def next_version(self, region: str) -> int:
        return 1 + max((r.version for r in self.state.rules.values() if r.region == region),
                       default=0)  # fmt: skip

    async def add(self, rules: RegionalRules) -> None:
        self.state.rules[rules.id] = rules

    async def get(self, rules_id: UUID) -> RegionalRules | None:
        return self.state.rules.get(rules_id)

    async def in_force(self, region: str) -> RegionalRules | None:
        return next((r for r in self.state.rules.values()
                     if r.region == region and r.status is RulesStatus.APPROVED), None)  # fmt: skip

    async def save(self, rules: RegionalRules) -> None:
        if rules.status is RulesStatus.APPROVED:
            assert await self.in_force(rules.region) in (None, self.state.rules[rules.id])
        self.state.rules[rules.id] = rules


class FakeUnitOfWork(fakes.FakeUnitOfWork[State]):
    proposals: ProposalRepository
    rules: RulesRepository

    def __init__(self) -> None:
        super().__init__(State())

    def bind(self) -> None:
        self.proposals = FakeProposalRepository(self.state)
        self.rules = FakeRulesRepository(self.state)


class FakeEvidence:
    """Monitoring's indicators, or None (unavailable) while `away`."""

    def __init__(self) -> None:
        self.away = False
        self.asked: list[str] = []

    async def indicators(self, region: str) -> Mapping[str, Any] | None:
        self.asked.append(region)
        return None if self.away else {"region": region, "population": 750_000}
