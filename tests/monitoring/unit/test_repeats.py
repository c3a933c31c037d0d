"""Events marked `repeat` (registration asking quota again, quota publishing a first outcome
again, proposals sending a stuck approval again) carry no new fact: the projections count
each application's request and reservation, and each proposal's approval, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from koshiqon.common.events import proposals as prop
from koshiqon.common.events import quota as q
from koshiqon.common.events import registration as reg
from koshiqon.common.events.contracts import EventPayload
from koshiqon.monitoring.domain.model import PROJECTORS, Changes

AT = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def project(event: EventPayload) -> Changes:
    return PROJECTORS[type(event)](event)


def requested(**extra: object) -> reg.ResettlementRequested:
    return reg.ResettlementRequested(
        application_id=uuid.uuid4(), applicant_id=uuid.uuid4(),
        category=reg.ResettlementCategory.MIGRANT, target_region="590000000",
        target_year=2026, persons=3, requested_at=AT, **extra,
    )  # fmt: skip


def reserved(**extra: object) -> q.QuotaReserved:
    return q.QuotaReserved(
        application_id=uuid.uuid4(), quota_id=uuid.uuid4(), kind=q.QuotaKind.MIGRANT,
        region="590000000", year=2026, persons=3, remaining=10, reserved_at=AT, **extra,
    )  # fmt: skip


def approved(**extra: object) -> prop.ProposalApproved:
    effect = prop.AdjustQuotaEffect(kind=q.QuotaKind.MIGRANT, year=2026, delta=50, reason="r")
    return prop.ProposalApproved(
        proposal_id=uuid.uuid4(), region="590000000", effect=effect, approved_at=AT, **extra
    )


def test_a_first_request_reservation_and_approval_are_counted() -> None:
    assert len(project(requested()).resettlement) == 1
    assert len(project(reserved()).quota_use) == 1
    assert len(project(approved()).proposals) == 1


def test_their_repeats_are_not() -> None:
    assert project(requested(repeat=True)) == Changes()
    assert project(reserved(repeat=True)) == Changes()
    assert project(approved(repeat=True)) == Changes()
