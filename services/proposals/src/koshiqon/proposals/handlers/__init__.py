"""The proposals handlers, `async def verb_noun(message, deps)`, one module per concern: the
workflow, quota's answers and stuck approvals, pending evidence, measures, regional rules.
Each consumed event's handler turns the event into its command and calls that command's
handler. The routing tables are at the foot."""

from __future__ import annotations

from typing import Any

from koshiqon.common.events import monitoring
from koshiqon.common.events import quota as quota_events
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.messagebus import Handler
from koshiqon.proposals.bus import Deps
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.handlers.effects import (
    on_proposal_effect_refused,
    on_quota_adjusted,
    on_territory_designated,
    on_territory_excluded,
    record_effect_applied,
    record_effect_refused,
    republish_stuck,
)
from koshiqon.proposals.handlers.evidence import retry_evidence
from koshiqon.proposals.handlers.measures import (
    note_alert_cleared,
    on_outflow_alert_cleared,
    on_outflow_alert_raised,
    open_measures,
)
from koshiqon.proposals.handlers.proposals import (
    approve_proposal,
    edit_proposal,
    file_proposal,
    reject_proposal,
    return_proposal,
    review_proposal,
    submit_proposal,
    withdraw_proposal,
)
from koshiqon.proposals.handlers.rules import approve_rules, draft_rules

COMMAND_HANDLERS: dict[type[Any], Handler[Deps]] = {
    c.FileProposal: file_proposal,
    c.EditProposal: edit_proposal,
    c.SubmitProposal: submit_proposal,
    c.ReviewProposal: review_proposal,
    c.ApproveProposal: approve_proposal,
    c.RejectProposal: reject_proposal,
    c.ReturnProposal: return_proposal,
    c.WithdrawProposal: withdraw_proposal,
    c.RecordEffectApplied: record_effect_applied,
    c.RecordEffectRefused: record_effect_refused,
    c.RepublishStuck: republish_stuck,
    c.RetryEvidence: retry_evidence,
    c.OpenMeasures: open_measures,
    c.NoteAlertCleared: note_alert_cleared,
    c.DraftRules: draft_rules,
    c.ApproveRules: approve_rules,
}

EVENT_HANDLERS: dict[type[EventPayload], Handler[Deps]] = {
    quota_events.QuotaAdjusted: on_quota_adjusted,
    quota_events.TerritoryDesignated: on_territory_designated,
    quota_events.TerritoryExcluded: on_territory_excluded,
    quota_events.ProposalEffectRefused: on_proposal_effect_refused,
    monitoring.OutflowAlertRaised: on_outflow_alert_raised,
    monitoring.OutflowAlertCleared: on_outflow_alert_cleared,
}

__all__ = ["COMMAND_HANDLERS", "EVENT_HANDLERS"]
