"""Approved proposals whose effect was applied (or refused): each is applied once."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from koshiqon.quota.adapters.repository.sql import (
    SqlRepository,
)


class SqlProposalRepository(SqlRepository):
    async def claim_proposal(self, proposal_id: UUID, *, now: datetime) -> bool:
        """False when this proposal's effect was already applied or refused."""
        row = await self._one(
            "INSERT INTO applied_proposals (proposal_id, outcome, applied_at) "
            "VALUES (:id, 'applied', :now) ON CONFLICT DO NOTHING RETURNING proposal_id",
            id=proposal_id,
            now=now,
        )
        return row is not None

    async def mark_proposal_refused(self, proposal_id: UUID) -> None:
        await self._one(
            "UPDATE applied_proposals SET outcome = 'refused' WHERE proposal_id = :id "
            "RETURNING proposal_id",
            id=proposal_id,
        )

    async def record_answer(self, proposal_id: UUID, answer: list[dict[str, Any]]) -> None:
        """Keep the events quota answered the proposal with, for a repeated approval."""
        await self._one(
            "UPDATE applied_proposals SET answer = CAST(:answer AS jsonb) "
            "WHERE proposal_id = :id RETURNING proposal_id",
            id=proposal_id,
            answer=orjson.dumps(answer).decode(),
        )

    async def answer_of(self, proposal_id: UUID) -> list[dict[str, Any]] | None:
        """The kept answer; None when there is none (answered before answers were kept)."""
        row = await self._one(
            "SELECT answer FROM applied_proposals WHERE proposal_id = :id", id=proposal_id
        )
        if row is None or row.answer is None:
            return None
        answer: list[dict[str, Any]] = row.answer
        return answer
