"""Wire contracts of `proposals.v1` (kz.migration.proposals.*.v1).

Subject (and Kafka key): the proposal id.

`proposal-approved` carries the effect the authorized migration body approved (§6), in a
form the quota service applies as is. `effect` is a union told apart by its `type`:

- `adjust-quota`: increase or reduce a regional kandas / migrant quota or a foreign labour
  quota. The quota is the active one of `kind` in the proposal's `region` for the period
  `year`..`year_to` (`year_to` absent: one year) and, for foreign labour, `category`. Give
  either `delta` (signed, persons) or `new_limit`, not both.
- `designate-territory`: designate the territory `kato` (the region itself or one of its
  districts) for resettlement of `kinds` from `effective_from`, on `decision`.
- `exclude-territory`: end the designation of `kato` for `kinds` (absent: every kind) from
  `effective_from`, on `decision`.

The quota service answers with `quota-adjusted`, `territory-designated`,
`territory-excluded`, or `proposal-effect-refused` with the reason (all on `quota.v1`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from koshiqon.common.events.contracts import EventPayload, event
from koshiqon.common.events.quota import LabourCategory, QuotaKind, ResettlementKind

KATO = Field(pattern=r"^[0-9]{9}$", description="9-digit KATO code")


class _Effect(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AdjustQuotaEffect(_Effect):
    type: Literal["adjust-quota"] = "adjust-quota"
    kind: QuotaKind
    year: int = Field(ge=2000, le=2100)
    year_to: int | None = Field(default=None, ge=2000, le=2100, description="medium term")
    category: LabourCategory | None = Field(default=None, description="foreign labour only")
    delta: int | None = Field(default=None, description="signed change, persons")
    new_limit: int | None = Field(default=None, ge=0)
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _delta_or_new_limit(self) -> Self:
        if (self.delta is None) == (self.new_limit is None):
            raise ValueError("give exactly one of delta and new_limit")
        return self


class DesignateTerritoryEffect(_Effect):
    type: Literal["designate-territory"] = "designate-territory"
    kato: str = KATO
    kinds: list[ResettlementKind] = Field(min_length=1)
    effective_from: date
    decision: str = Field(min_length=1, max_length=500)


class ExcludeTerritoryEffect(_Effect):
    type: Literal["exclude-territory"] = "exclude-territory"
    kato: str = KATO
    kinds: list[ResettlementKind] | None = Field(default=None, description="absent: all")
    effective_from: date
    decision: str = Field(min_length=1, max_length=500)


ProposalEffect = Annotated[
    AdjustQuotaEffect | DesignateTerritoryEffect | ExcludeTerritoryEffect,
    Field(discriminator="type"),
]


@event("proposals", "proposal-approved")
class ProposalApproved(EventPayload):
    """The authorized migration body approved a region's proposal (§6)."""

    proposal_id: UUID
    region: str = KATO
    effect: ProposalEffect
    approved_at: datetime
