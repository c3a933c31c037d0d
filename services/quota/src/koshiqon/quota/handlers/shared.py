"""What the handlers share: reads that fail with the domain's NotFound."""

from __future__ import annotations

from uuid import UUID

from koshiqon.common.events import quota as wire
from koshiqon.quota.domain.errors import QuotaNotFound, ReservationNotFound
from koshiqon.quota.domain.model import Quota, Reservation
from koshiqon.quota.unit_of_work import UnitOfWork


async def get_quota(uow: UnitOfWork, quota_id: UUID) -> Quota:
    quota = await uow.quotas.get_quota(quota_id)
    if quota is None:
        raise QuotaNotFound(f"no quota {quota_id}")
    return quota


async def get_reservation(uow: UnitOfWork, application_id: UUID) -> Reservation:
    reservation = await uow.ledger.get_reservation(application_id)
    if reservation is None:
        raise ReservationNotFound(f"no reservation for application {application_id}")
    return reservation


def category_of(quota: Quota) -> wire.LabourCategory | None:
    return None if quota.category is None else wire.LabourCategory(quota.category)
