"""HTTP routes of the quota service (scopes quota:read, quota:admin, quota:reserve).

Setting quotas and designating territories is the ministry's: `quota:admin` operations take
a nationwide token (an akimat proposes, §6, it does not decide). A reservation may be asked
by a token limited to the reservation's region.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from koshiqon.common.auth import Principal, require_scopes
from koshiqon.common.errors import Forbidden, InvalidInput
from koshiqon.common.http.pagination import Page, PageQuery, make_page
from koshiqon.common.http.problems import problem_responses
from koshiqon.quota.bootstrap import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import QuotaNotFound, ReservationNotFound
from koshiqon.quota.domain.model import (
    Kind,
    Period,
    QuotaSpec,
    ReleaseReason,
    TerritoryKind,
    TerritoryStatus,
)
from koshiqon.quota.entrypoints.schemas import (
    AdjustmentIn,
    ExclusionIn,
    HistoryOut,
    OrderOut,
    QuotaIn,
    QuotaOut,
    ReservationIn,
    ReservationOut,
    TerritoryIn,
    TerritoryOut,
)

MAX_ORDER_BYTES = 1_000_000

router = APIRouter(prefix="/v1")


async def get_bus(request: Request) -> Bus:
    """async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
    request for a dictionary lookup."""
    bus: Bus = request.app.state.bus
    return bus


async def nationwide_admin(
    principal: Annotated[Principal, Depends(require_scopes("quota:admin"))],
) -> Principal:
    if not principal.nationwide:
        raise Forbidden("quotas and territories are set by the ministry: a nationwide token")
    return principal


BusDep = Annotated[Bus, Depends(get_bus)]
Reader = Annotated[Principal, Depends(require_scopes("quota:read"))]
Admin = Annotated[Principal, Depends(nationwide_admin)]
Reserver = Annotated[Principal, Depends(require_scopes("quota:reserve"))]
READ = problem_responses(401, 403, 422)
ONE = problem_responses(401, 403, 404, 422)
ADMIN = problem_responses(401, 403, 404, 409, 422)


# --- quotas ---------------------------------------------------------------------------------


@router.get("/quotas", response_model=Page[QuotaOut], responses=READ, tags=["quotas"])
async def list_quotas(
    bus: BusDep,
    _: Reader,
    page: PageQuery,
    kind: Kind | None = None,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Any:
    after = _uuid_cursor(page.after)
    async with bus.read() as db:
        rows = await db.quotas.list_quotas(
            kind=kind, region=region, year=year, after=after, limit=page.limit + 1
        )
    items = [QuotaOut.of(q) for q in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda q: (str(q.id),))


@router.get("/quotas/{quota_id}", response_model=QuotaOut, responses=ONE, tags=["quotas"])
async def get_quota(quota_id: UUID, bus: BusDep, _: Reader) -> QuotaOut:
    async with bus.read() as db:
        quota = await db.quotas.get_quota(quota_id)
    if quota is None:
        raise QuotaNotFound(f"no quota {quota_id}")
    return QuotaOut.of(quota)


@router.get(
    "/quotas/{quota_id}/ledger",
    response_model=Page[ReservationOut],
    responses=ONE,
    tags=["quotas"],
)
async def get_ledger(quota_id: UUID, bus: BusDep, _: Reader, page: PageQuery) -> Any:
    async with bus.read() as db:
        if await db.quotas.get_quota(quota_id) is None:
            raise QuotaNotFound(f"no quota {quota_id}")
        rows = await db.ledger.ledger(
            quota_id, after=_uuid_cursor(page.after), limit=page.limit + 1
        )
    items = [ReservationOut.of(r) for r in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda r: (str(r.application_id),))


@router.get(
    "/quotas/{quota_id}/history",
    response_model=Page[HistoryOut],
    responses=ONE,
    tags=["quotas"],
)
async def get_history(quota_id: UUID, bus: BusDep, _: Reader, page: PageQuery) -> Any:
    after = _int_cursor(page.after)
    async with bus.read() as db:
        if await db.quotas.get_quota(quota_id) is None:
            raise QuotaNotFound(f"no quota {quota_id}")
        rows = await db.quotas.history(quota_id, after=after, limit=page.limit + 1)
    items = [HistoryOut.of(h) for h in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda h: (h.seq,))


@router.post("/quotas", status_code=201, response_model=QuotaOut, responses=ADMIN, tags=["quotas"])
async def establish_quota(body: QuotaIn, bus: BusDep, admin: Admin, response: Response) -> Any:
    spec = QuotaSpec.of(
        kind=body.kind,
        region=body.region,
        category=body.category,
        period=Period.of(body.year_from, body.year_to),
        limit=body.limit,
    )
    quota = await bus.handle(c.EstablishQuota(spec, reference=body.reference, actor=admin.subject))
    response.headers["Location"] = f"/v1/quotas/{quota.id}"
    return QuotaOut.of(quota)


@router.post(
    "/quotas/{quota_id}/adjustments", response_model=QuotaOut, responses=ADMIN, tags=["quotas"]
)
async def adjust_quota(quota_id: UUID, body: AdjustmentIn, bus: BusDep, admin: Admin) -> Any:
    command = c.AdjustQuota(
        quota_id=quota_id,
        reason=body.reason,
        reference=body.reference,
        delta=body.delta,
        new_limit=body.new_limit,
        proposal_id=body.proposal_id,
        actor=admin.subject,
    )
    return QuotaOut.of(await bus.handle(command))


@router.post(
    "/quota-orders",
    status_code=201,
    response_model=OrderOut,
    responses=ADMIN,
    tags=["quotas"],
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_quota_order(
    request: Request,
    bus: BusDep,
    admin: Admin,
    order: Annotated[str, Query(min_length=1, max_length=200, description="order number")],
) -> Any:
    text = _csv_text(await request.body())
    imported = await bus.handle(c.ImportQuotaOrder(text, order=order, actor=admin.subject))
    return OrderOut.of(imported)


# --- territories ----------------------------------------------------------------------------


@router.get("/territories", response_model=Page[TerritoryOut], responses=READ, tags=["territories"])
async def list_territories(
    bus: BusDep,
    _: Reader,
    page: PageQuery,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    kind: TerritoryKind | None = None,
    status: TerritoryStatus | None = None,
) -> Any:
    async with bus.read() as db:
        rows = await db.territories.list_territories(
            region=region,
            kind=kind,
            status=status,
            after=_uuid_cursor(page.after),
            limit=page.limit + 1,
        )
    items = [TerritoryOut.of(t) for t in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda t: (str(t.id),))


@router.post(
    "/territories",
    status_code=201,
    response_model=TerritoryOut,
    responses=ADMIN,
    tags=["territories"],
)
async def designate_territory(body: TerritoryIn, bus: BusDep, _: Admin) -> Any:
    command = c.DesignateTerritory(
        kato=body.kato, kind=body.kind, effective_from=body.effective_from, decision=body.decision
    )
    return TerritoryOut.of(await bus.handle(command))


@router.post(
    "/territories/{territory_id}/exclusion",
    response_model=TerritoryOut,
    responses=ADMIN,
    tags=["territories"],
)
async def exclude_territory(territory_id: UUID, body: ExclusionIn, bus: BusDep, _: Admin) -> Any:
    command = c.ExcludeTerritory(territory_id, body.effective_from, body.decision)
    return TerritoryOut.of(await bus.handle(command))


# --- reservations ---------------------------------------------------------------------------


@router.post("/reservations", response_model=ReservationOut, responses=ADMIN, tags=["reservations"])
async def reserve(body: ReservationIn, bus: BusDep, principal: Reserver) -> Any:
    """Reserve synchronously: `reserved`, or `denied` with the reason (not an error). A
    repeat for the same application id returns the first outcome."""
    principal.require_region(body.region, field="region")
    command = c.ReserveQuota(
        application_id=body.application_id,
        kind=body.kind,
        region=body.region,
        year=body.year,
        persons=body.persons,
        category=body.category,
    )
    return ReservationOut.of(await bus.handle(command))


@router.post(
    "/reservations/{application_id}/release",
    response_model=ReservationOut,
    responses=ADMIN,
    tags=["reservations"],
)
async def release(application_id: UUID, bus: BusDep, principal: Reserver) -> Any:
    async with bus.read() as db:
        reservation = await db.ledger.get_reservation(application_id)
    if reservation is None:
        raise ReservationNotFound(f"no reservation for application {application_id}")
    principal.require_region(reservation.region, field="application_id")
    command = c.ReleaseReservation(application_id, ReleaseReason.CANCELLED)
    return ReservationOut.of(await bus.handle(command))


def _uuid_cursor(after: tuple[Any, ...] | None) -> UUID | None:
    if after is None:
        return None
    try:
        return UUID(str(after[0]))
    except (ValueError, IndexError):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor") from None


def _int_cursor(after: tuple[Any, ...] | None) -> int | None:
    if after is None:
        return None
    if len(after) != 1 or not isinstance(after[0], int):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor")
    return after[0]


def _csv_text(body: bytes) -> str:
    if len(body) > MAX_ORDER_BYTES:
        raise InvalidInput(f"an order file is at most {MAX_ORDER_BYTES} bytes", field="body")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("an order file is UTF-8 text", field="body") from None
