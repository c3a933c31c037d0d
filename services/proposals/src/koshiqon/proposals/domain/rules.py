"""A region's rules for regulating migration processes (§2): developed by the akimat,
approved by the local representative body (the maslikhat), in versions. One approved version
is in force per region at a time; approving another supersedes it; earlier versions stay
readable. Pure: no I/O."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from koshiqon.common import kz
from koshiqon.common.events import proposals as wire
from koshiqon.common.messagebus import Actor
from koshiqon.proposals.domain.errors import InvalidProposal, RulesState
from koshiqon.proposals.domain.model import require_filer


class RulesStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class RegionalRules:
    id: UUID
    region: str
    version: int
    title: str
    text: str  # Markdown
    status: RulesStatus
    created_by: str
    created_at: datetime
    decision_number: str | None = None
    decision_date: date | None = None
    approved_at: datetime | None = None
    superseded_at: datetime | None = None


def draft_rules(
    *,
    rules_id: UUID,
    region: str,
    version: int,
    title: str,
    text: str,
    actor: Actor,
    now: datetime,
) -> RegionalRules:
    """A new draft version, numbered after the region's latest."""
    require_filer(actor, region)
    return RegionalRules(
        rules_id, region, version, title, text, RulesStatus.DRAFT, actor.subject, now
    )


def approve_rules(
    rules: RegionalRules,
    *,
    in_force: RegionalRules | None,
    decision_number: str,
    decision_date: date,
    actor: Actor,
    now: datetime,
) -> tuple[RegionalRules, RegionalRules | None, wire.RegionalRulesApproved]:
    """The draft approved by the maslikhat's decision, and the version it supersedes."""
    require_filer(actor, rules.region)
    if rules.status is not RulesStatus.DRAFT:
        raise RulesState(
            f"version {rules.version} is {rules.status}, not a draft",
            extra={"current_status": rules.status.value},
        )
    if decision_date > kz.kz_today(now):
        raise InvalidProposal(
            "the maslikhat's decision date is in the future", field="decision_date"
        )
    approved = replace(
        rules,
        status=RulesStatus.APPROVED,
        decision_number=decision_number,
        decision_date=decision_date,
        approved_at=now,
    )
    superseded = (
        None
        if in_force is None
        else replace(in_force, status=RulesStatus.SUPERSEDED, superseded_at=now)
    )
    event = wire.RegionalRulesApproved(
        rules_id=rules.id,
        region=rules.region,
        version=rules.version,
        decision_number=decision_number,
        decision_date=decision_date,
        supersedes=None if in_force is None else in_force.id,
        approved_at=now,
    )
    return approved, superseded, event


def diff(older: RegionalRules, newer: RegionalRules) -> str:
    """A unified diff of two versions' title and text (empty when they are the same)."""

    def lines(r: RegionalRules) -> list[str]:
        return [f"# {r.title}\n", "\n", *(line + "\n" for line in r.text.splitlines())]

    return "".join(
        difflib.unified_diff(
            lines(older),
            lines(newer),
            fromfile=f"version {older.version}",
            tofile=f"version {newer.version}",
        )
    )
