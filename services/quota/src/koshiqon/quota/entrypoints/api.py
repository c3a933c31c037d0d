"""HTTP routes of the quota service (scopes quota:read, quota:admin, quota:reserve): each
parses, builds a command with the caller's `Actor` and hands it to the bus, or reads through
`queries`, and returns its response model.

Setting quotas and designating territories is the ministry's: `quota:admin` operations take
a nationwide token (an akimat proposes, §6, it does not decide). A reservation may be asked,
and released, by a token limited to the reservation's region.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common.auth import Principal, require_scopes
from koshiqon.common.errors import InvalidInput
from koshiqon.common.http.idempotency import effect_is_idempotent
from koshiqon.common.http.links import link, links
from koshiqon.common.http.pagination import Page, PageQuery, make_page
from koshiqon.common.http.problems import problem_responses
from koshiqon.common.http.text import WITHOUT_NUL
from koshiqon.common.messagebus import Actor
from koshiqon.quota import queries
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import InvalidOrder, NationwideOnly
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


async def get_engine(request: Request) -> AsyncEngine:
    """The app's one engine (create_app's), for the queries."""
    engine: AsyncEngine = request.app.state.engine
    return engine


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, agency=principal.agency, region=principal.region)


async def nationwide_admin(
    principal: Annotated[Principal, Depends(require_scopes("quota:admin"))],
) -> Actor:
    if not principal.nationwide:
        raise NationwideOnly("quotas and territories are set by the ministry: a nationwide token")
    return actor_of(principal)


async def reserver(
    principal: Annotated[Principal, Depends(require_scopes("quota:reserve"))],
) -> Actor:
    return actor_of(principal)


BusDep = Annotated[Bus, Depends(get_bus)]
Engine = Annotated[AsyncEngine, Depends(get_engine)]
Reader = Annotated[Principal, Depends(require_scopes("quota:read"))]
Admin = Annotated[Actor, Depends(nationwide_admin)]
Reserver = Annotated[Actor, Depends(reserver)]
READ = problem_responses(401, 403, 422)
ONE = problem_responses(401, 403, 404, 422)
ADMIN = problem_responses(401, 403, 404, 409, 422)

QUOTA = "/v1/quotas/{quota_id}"


def quota_links(status: int, quota_id: str) -> dict[int | str, dict[str, Any]]:
    """A quota's reads and its adjustment, for the quota `quota_id` (an expression) names."""
    return links(
        status,
        get_quota=link("GET", QUOTA, quota_id=quota_id),
        get_ledger=link("GET", f"{QUOTA}/ledger", quota_id=quota_id),
        get_history=link("GET", f"{QUOTA}/history", quota_id=quota_id),
        adjust_quota=link("POST", f"{QUOTA}/adjustments", quota_id=quota_id),
    )


# --- quotas ---------------------------------------------------------------------------------


@router.get("/quotas", responses=READ, tags=["quotas"])
async def list_quotas(
    engine: Engine,
    _: Reader,
    page: PageQuery,
    kind: Kind | None = None,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Page[QuotaOut]:
    rows = await queries.list_quotas(
        engine, kind=kind, region=region, year=year, after=_uuid_cursor(page.after),
        limit=page.limit + 1,
    )  # fmt: skip
    items = [QuotaOut.of(q) for q in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda q: (str(q.id),))


@router.get("/quotas/{quota_id}", responses=ONE, tags=["quotas"])
async def get_quota(quota_id: UUID, engine: Engine, _: Reader) -> QuotaOut:
    return QuotaOut.of(await queries.get_quota(engine, quota_id))


@router.get("/quotas/{quota_id}/ledger", responses=ONE, tags=["quotas"])
async def get_ledger(
    quota_id: UUID, engine: Engine, _: Reader, page: PageQuery
) -> Page[ReservationOut]:
    after = _uuid_cursor(page.after)
    rows = await queries.ledger(engine, quota_id, after=after, limit=page.limit + 1)
    items = [ReservationOut.of(r) for r in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda r: (str(r.application_id),))


@router.get("/quotas/{quota_id}/history", responses=ONE, tags=["quotas"])
async def get_history(
    quota_id: UUID, engine: Engine, _: Reader, page: PageQuery
) -> Page[HistoryOut]:
    after = _int_cursor(page.after)
    rows = await queries.history(engine, quota_id, after=after, limit=page.limit + 1)
    items = [HistoryOut.of(h) for h in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda h: (h.seq,))


@router.post(
    "/quotas",
    status_code=201,
    responses={**ADMIN, **quota_links(201, "$response.body#/id")},
    tags=["quotas"],
)
async def establish_quota(body: QuotaIn, bus: BusDep, actor: Admin, response: Response) -> QuotaOut:
    spec = QuotaSpec.of(
        kind=body.kind,
        region=body.region,
        category=body.category,
        period=Period.of(body.year_from, body.year_to),
        limit=body.limit,
    )
    quota = await bus.handle(c.EstablishQuota(spec, reference=body.reference, actor=actor))
    response.headers["Location"] = f"/v1/quotas/{quota.id}"
    return QuotaOut.of(quota)


@router.post(
    "/quotas/{quota_id}/adjustments",
    responses={**ADMIN, **quota_links(200, "$response.body#/id")},
    tags=["quotas"],
)
async def adjust_quota(quota_id: UUID, body: AdjustmentIn, bus: BusDep, actor: Admin) -> QuotaOut:
    command = c.AdjustQuota(
        quota_id=quota_id,
        reason=body.reason,
        reference=body.reference,
        delta=body.delta,
        new_limit=body.new_limit,
        proposal_id=body.proposal_id,
        actor=actor,
    )
    return QuotaOut.of(await bus.handle(command))


@router.post(
    "/quota-orders",
    status_code=201,
    responses=ADMIN,
    tags=["quotas"],
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_quota_order(
    request: Request,
    bus: BusDep,
    actor: Admin,
    order: Annotated[
        str, Query(min_length=1, max_length=200, description="order number"), WITHOUT_NUL
    ],
) -> OrderOut:
    text = _csv_text(await request.body())
    imported = await bus.handle(c.ImportQuotaOrder(text, order=order, actor=actor))
    return OrderOut.of(imported)


# --- territories ----------------------------------------------------------------------------


@router.get("/territories", responses=READ, tags=["territories"])
async def list_territories(
    engine: Engine,
    _: Reader,
    page: PageQuery,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    kind: TerritoryKind | None = None,
    status: TerritoryStatus | None = None,
) -> Page[TerritoryOut]:
    rows = await queries.list_territories(
        engine, region=region, kind=kind, status=status, after=_uuid_cursor(page.after),
        limit=page.limit + 1,
    )  # fmt: skip
    items = [TerritoryOut.of(t) for t in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda t: (str(t.id),))


@router.post(
    "/territories",
    status_code=201,
    responses={
        **ADMIN,
        **links(
            201,
            exclude_territory=link(
                "POST",
                "/v1/territories/{territory_id}/exclusion",
                territory_id="$response.body#/id",
            ),
        ),
    },
    tags=["territories"],
)
async def designate_territory(body: TerritoryIn, bus: BusDep, actor: Admin) -> TerritoryOut:
    command = c.DesignateTerritory(
        kato=body.kato,
        kind=body.kind,
        effective_from=body.effective_from,
        decision=body.decision,
        actor=actor,
    )
    return TerritoryOut.of(await bus.handle(command))


@router.post("/territories/{territory_id}/exclusion", responses=ADMIN, tags=["territories"])
async def exclude_territory(
    territory_id: UUID, body: ExclusionIn, bus: BusDep, actor: Admin
) -> TerritoryOut:
    command = c.ExcludeTerritory(territory_id, body.effective_from, body.decision, actor=actor)
    return TerritoryOut.of(await bus.handle(command))


# --- reservations ---------------------------------------------------------------------------


@router.post(
    "/reservations",
    responses={
        **ADMIN,
        **links(
            200,
            release=link(
                "POST",
                "/v1/reservations/{application_id}/release",
                application_id="$response.body#/application_id",
            ),
        ),
    },
    tags=["reservations"],
)
async def reserve(body: ReservationIn, bus: BusDep, actor: Reserver) -> ReservationOut:
    """Reserve synchronously: `reserved`, or `denied` with the reason (not an error). A
    repeat for the same application id returns the first outcome (and publishes its event
    again); one asking for other kind, region, year, category or persons is 409
    `reservation-conflict`. Under an Idempotency-Key nothing is held for the response: the
    reservation is idempotent by its application id already (`effect_is_idempotent`)."""
    effect_is_idempotent()
    command = c.ReserveQuota(
        application_id=body.application_id,
        kind=body.kind,
        region=body.region,
        year=body.year,
        persons=body.persons,
        category=body.category,
        actor=actor,
    )
    return ReservationOut.of(await bus.handle(command))


@router.post("/reservations/{application_id}/release", responses=ADMIN, tags=["reservations"])
async def release(application_id: UUID, bus: BusDep, actor: Reserver) -> ReservationOut:
    command = c.ReleaseReservation(application_id, ReleaseReason.CANCELLED, actor=actor)
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
        raise InvalidOrder(f"an order file is at most {MAX_ORDER_BYTES} bytes", field="body")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidOrder("an order file is UTF-8 text", field="body") from None
