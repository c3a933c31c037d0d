"""Resettlement applications (§7) and the quota saga's state machine.

Status: pending_quota -> approved (quota reserved) | rejected (quota denied); approved ->
completed (the applicant registered permanently in the target region) | withdrawn |
expired. A withdrawal is also allowed while pending. A quota never restricts the move
itself (§3): a rejected application means no state support, not a refused registration.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TypedDict

from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.registration import (
    ResettlementApproved,
    ResettlementCategory,
    ResettlementCompleted,
    ResettlementRejected,
    ResettlementRequested,
    ResettlementWithdrawn,
)
from koshiqon.common.kz import is_region_code, region_of
from koshiqon.registration.domain.errors import InvalidInput, InvalidTransition
from koshiqon.registration.domain.model import Person

__all__ = [
    "OPEN_STATUSES",
    "ApplicationStatus",
    "ResettlementApplication",
    "ResettlementCategory",
]


class ApplicationStatus(StrEnum):
    PENDING_QUOTA = "pending_quota"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


OPEN_STATUSES = frozenset({ApplicationStatus.PENDING_QUOTA, ApplicationStatus.APPROVED})


@dataclass(frozen=True)
class ResettlementApplication:
    """One application and what the quota service said about it.

    The quota stamps (`quota_*_at`) are recorded whatever the status, so an outcome that
    arrives out of order never resurrects a closed application: a reservation that comes
    after its release or expiry approves nothing.
    """

    id: uuid.UUID
    applicant_id: uuid.UUID
    category: ResettlementCategory
    family_member_ids: tuple[uuid.UUID, ...]
    target_region: str
    target_year: int
    status: ApplicationStatus
    requested_at: datetime
    quota_requested_at: datetime
    quota_id: uuid.UUID | None = None
    rejection_reason: str | None = None
    closed_reason: str | None = None
    quota_reserved_at: datetime | None = None
    quota_denied_at: datetime | None = None
    quota_released_at: datetime | None = None
    quota_expired_at: datetime | None = None
    decided_at: datetime | None = None
    settlement: str | None = None
    completed_on: date | None = None
    withdrawn_at: datetime | None = None
    quota_requests: int = 1

    @property
    def persons(self) -> int:
        return 1 + len(self.family_member_ids)

    @classmethod
    def new(
        cls,
        *,
        id: uuid.UUID,
        applicant: Person,
        category: ResettlementCategory,
        family_member_ids: Sequence[uuid.UUID],
        target_region: str,
        target_year: int,
        requested_at: datetime,
    ) -> ResettlementApplication:
        _check_application(applicant, category, family_member_ids, target_region)
        return cls(
            id=id,
            applicant_id=applicant.id,
            category=category,
            family_member_ids=tuple(family_member_ids),
            target_region=target_region,
            target_year=target_year,
            status=ApplicationStatus.PENDING_QUOTA,
            requested_at=requested_at,
            quota_requested_at=requested_at,
        )

    def requested_event(self, *, repeat: bool = False) -> ResettlementRequested:
        return ResettlementRequested(
            application_id=self.id,
            applicant_id=self.applicant_id,
            category=self.category,
            target_region=self.target_region,
            target_year=self.target_year,
            persons=self.persons,
            requested_at=self.requested_at,
            repeat=repeat,
        )

    def _facts(self) -> _Facts:
        return {
            "application_id": self.id,
            "applicant_id": self.applicant_id,
            "category": self.category,
            "target_region": self.target_region,
            "target_year": self.target_year,
            "persons": self.persons,
        }

    def request_quota_again(
        self, *, at: datetime
    ) -> tuple[ResettlementApplication, list[EventPayload]]:
        """Ask the quota service again while it has not answered (the request or its outcome
        lost on the way): the same request, which quota answers with its first outcome.
        Unchanged, with no event, once the application is no longer pending."""
        if self.status is not ApplicationStatus.PENDING_QUOTA:
            return self, []
        again = replace(self, quota_requested_at=at, quota_requests=self.quota_requests + 1)
        return again, [self.requested_event(repeat=True)]

    # quota outcomes: each returns the new state and the events; unchanged when not allowed

    def quota_reserved(
        self, *, quota_id: uuid.UUID, at: datetime
    ) -> tuple[ResettlementApplication, list[EventPayload]]:
        stamped = replace(self, quota_reserved_at=self.quota_reserved_at or at)
        closed = self.quota_released_at or self.quota_expired_at
        if self.status is not ApplicationStatus.PENDING_QUOTA or closed:
            return stamped, []
        approved = replace(
            stamped, status=ApplicationStatus.APPROVED, quota_id=quota_id, decided_at=at
        )
        event = ResettlementApproved(**self._facts(), quota_id=quota_id, approved_at=at)
        return approved, [event]

    def quota_denied(
        self, *, reason: str, at: datetime
    ) -> tuple[ResettlementApplication, list[EventPayload]]:
        stamped = replace(self, quota_denied_at=self.quota_denied_at or at)
        if self.status is not ApplicationStatus.PENDING_QUOTA:
            return stamped, []
        rejected = replace(
            stamped, status=ApplicationStatus.REJECTED, rejection_reason=reason, decided_at=at
        )
        event = ResettlementRejected(**self._facts(), reason=reason, rejected_at=at)
        return rejected, [event]

    def quota_released(self, *, reason: str, at: datetime) -> ResettlementApplication:
        """The reservation was freed. After our own withdrawal this only confirms it; an
        open application whose reservation the quota service cancelled loses its support."""
        stamped = replace(self, quota_released_at=self.quota_released_at or at)
        if self.status not in OPEN_STATUSES:
            return stamped
        return replace(
            stamped,
            status=ApplicationStatus.WITHDRAWN,
            closed_reason=f"reservation released: {reason}",
        )

    def quota_expired(self, *, at: datetime) -> ResettlementApplication:
        stamped = replace(self, quota_expired_at=self.quota_expired_at or at)
        if self.status not in OPEN_STATUSES:
            return stamped
        reason = "reservation expired at the end of the quota period"
        return replace(stamped, status=ApplicationStatus.EXPIRED, closed_reason=reason)

    # the applicant's own acts

    def withdraw(self, *, at: datetime) -> tuple[ResettlementApplication, list[EventPayload]]:
        if self.status not in OPEN_STATUSES:
            raise InvalidTransition(
                f"an application in status {self.status} cannot be withdrawn", field="status"
            )
        withdrawn = replace(
            self,
            status=ApplicationStatus.WITHDRAWN,
            withdrawn_at=at,
            closed_reason="withdrawn by the applicant",
        )
        return withdrawn, [ResettlementWithdrawn(**self._facts(), withdrawn_at=at)]

    def complete(
        self, *, settlement: str, on: date
    ) -> tuple[ResettlementApplication, list[EventPayload]]:
        """The applicant registered permanently in the target region."""
        if self.status is not ApplicationStatus.APPROVED:
            raise InvalidTransition("only an approved application completes", field="status")
        if region_of(settlement).kato != self.target_region:
            raise InvalidInput("the settlement is outside the target region", field="settlement")
        completed = replace(
            self, status=ApplicationStatus.COMPLETED, settlement=settlement, completed_on=on
        )
        event = ResettlementCompleted(**self._facts(), settlement=settlement, completed_on=on)
        return completed, [event]


class _Facts(TypedDict):
    application_id: uuid.UUID
    applicant_id: uuid.UUID
    category: ResettlementCategory
    target_region: str
    target_year: int
    persons: int


def _check_application(
    applicant: Person,
    category: ResettlementCategory,
    family_member_ids: Sequence[uuid.UUID],
    target_region: str,
) -> None:
    if not is_region_code(target_region):
        raise InvalidInput(
            "target_region is a region's own KATO code (AB0000000)", field="target_region"
        )
    if category is ResettlementCategory.KANDAS and applicant.kandas is None:
        raise InvalidInput("the applicant holds no kandas status", field="category")
    if applicant.id in family_member_ids:
        raise InvalidInput("the applicant is not their own family member", field="family")
    if len(set(family_member_ids)) != len(family_member_ids):
        raise InvalidInput("a family member is listed twice", field="family")
