"""The proposals service's repositories: proposals with their history, and regional rules;
the Protocols they satisfy are in `koshiqon.proposals.unit_of_work`."""

from __future__ import annotations

from koshiqon.proposals.adapters.repository.proposals import SqlProposalRepository
from koshiqon.proposals.adapters.repository.rules import SqlRulesRepository

__all__ = ["SqlProposalRepository", "SqlRulesRepository"]
