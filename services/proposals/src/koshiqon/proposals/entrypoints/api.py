"""HTTP routes of the proposals service (scopes `proposals:file` for akimats,
`proposals:decide` for the authorized migration body, `proposals:read`): each parses, builds
a command with the caller's `Actor` and hands it to the bus, or reads through `queries`, and
returns its response model.

Filing and changing a proposal, and a region's rules, takes a token of that region (the
akimat's); deciding takes a nationwide one. A token limited to a region sees that region's
proposals only: another region's answer 404, as if they did not exist.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common import kz
from koshiqon.common.auth import Principal, require_scopes
from koshiqon.common.errors import InvalidInput
from koshiqon.common.events.proposals import ProposalType
from koshiqon.common.http.links import link, links
from koshiqon.common.http.pagination import Page, PageQuery, make_page
from koshiqon.common.http.problems import problem_responses
from koshiqon.common.messagebus import Actor
from koshiqon.proposals import queries
from koshiqon.proposals.bus import Bus
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain.model import Proposal, Status
from koshiqon.proposals.entrypoints.schemas import (
    KATO_PATTERN,
    ApproveIn,
    CommentIn,
    ProposalDetail,
    ProposalIn,
    ProposalOut,
    ProposalPatch,
    ReasonIn,
    RulesApprovalIn,
    RulesDiffOut,
    RulesIn,
    RulesList,
    RulesOut,
    TransitionOut,
)

router = APIRouter(prefix="/v1")


async def get_bus(request: Request) -> Bus:
    """async: FastAPI runs a plain `def` dependency in its thread pool."""
    bus: Bus = request.app.state.bus
    return bus


async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, agency=principal.agency, region=principal.region)


async def filer(
    principal: Annotated[Principal, Depends(require_scopes("proposals:file"))],
) -> Actor:
    return actor_of(principal)


async def decider(
    principal: Annotated[Principal, Depends(require_scopes("proposals:decide"))],
) -> Actor:
    return actor_of(principal)


async def reader(
    principal: Annotated[Principal, Depends(require_scopes("proposals:read"))],
) -> Actor:
    return actor_of(principal)


BusDep = Annotated[Bus, Depends(get_bus)]
Engine = Annotated[AsyncEngine, Depends(get_engine)]
Filer = Annotated[Actor, Depends(filer)]
Decider = Annotated[Actor, Depends(decider)]
Reader = Annotated[Actor, Depends(reader)]
Kato = Annotated[str, Query(pattern=KATO_PATTERN)]
READ = problem_responses(401, 403, 422)
ONE = problem_responses(401, 403, 404, 422)
ACT = problem_responses(401, 403, 404, 409, 422)
PATCH = problem_responses(401, 403, 404, 409, 412, 422, 428)
OptionalComment = Annotated[CommentIn | None, Body()]

PROPOSAL = "/v1/proposals/{proposal_id}"
_ID = "$response.body#/id"
_STEPS = ("submit", "withdraw", "review", "approve", "reject", "return")


def proposal_links(status: int) -> dict[int | str, dict[str, Any]]:
    """From a proposal in a response: read it, edit it (`If-Match` its ETag), move it on."""
    return links(
        status,
        get_proposal=link("GET", PROPOSAL, proposal_id=_ID),
        edit_proposal=link(
            "PATCH", PROPOSAL, proposal_id=_ID, **{"header.If-Match": "$response.header.ETag"}
        ),
        **{
            f"{step}_proposal": link("POST", f"{PROPOSAL}/{step}", proposal_id=_ID)
            for step in _STEPS
        },
    )


RULES = "/v1/regions/{kato}/rules"
_RULES_OF = {"kato": "$response.body#/region", "rules_id": _ID}
RULES_LINKS = links(
    201,
    list_rules=link("GET", RULES, kato="$response.body#/region"),
    get_rules=link("GET", f"{RULES}/{{rules_id}}", **_RULES_OF),
    diff_rules=link("GET", f"{RULES}/{{rules_id}}/diff", **_RULES_OF, **{"query.against": _ID}),
    approve_rules=link("POST", f"{RULES}/{{rules_id}}/approve", **_RULES_OF),
)


def out(bus: Bus, proposal: Proposal, response: Response) -> ProposalOut:
    response.headers["ETag"] = f'"{proposal.version}"'
    return ProposalOut.of(proposal, now=bus.deps.now(), stuck_after=bus.deps.policy.stuck_after)


def expected_version(if_match: str | None) -> int | None:
    """The version `If-Match` names (`"3"`, `W/"3"` or `3`); 0, which no version is, for
    anything else, so that it fails as stale."""
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0


# --- proposals -------------------------------------------------------------------------------


@router.post(
    "/proposals", status_code=201, responses={**ACT, **proposal_links(201)}, tags=["proposals"]
)
async def file_proposal(
    body: ProposalIn, bus: BusDep, actor: Filer, response: Response
) -> ProposalOut:
    """A new draft proposal of the akimat of `region` (§6, §8)."""
    proposal = await bus.handle(
        c.FileProposal(
            region=body.region,
            type=body.type,
            payload=body.payload,
            justification=body.justification,
            documents=tuple(d.value() for d in body.documents),
            actor=actor,
        )
    )
    response.headers["Location"] = f"/v1/proposals/{proposal.id}"
    return out(bus, proposal, response)


@router.patch(
    "/proposals/{proposal_id}", responses={**PATCH, **proposal_links(200)}, tags=["proposals"]
)
async def edit_proposal(
    proposal_id: UUID,
    body: ProposalPatch,
    bus: BusDep,
    actor: Filer,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=100)] = None,
) -> ProposalOut:
    """Change a draft or a returned proposal; `If-Match` names the version changed."""
    documents = None if body.documents is None else tuple(d.value() for d in body.documents)
    proposal = await bus.handle(
        c.EditProposal(
            proposal_id=proposal_id,
            expected_version=expected_version(if_match),
            payload=body.payload,
            justification=body.justification,
            documents=documents,
            actor=actor,
        )
    )
    return out(bus, proposal, response)


@router.post(
    "/proposals/{proposal_id}/submit", responses={**ACT, **proposal_links(200)}, tags=["workflow"]
)
async def submit_proposal(
    proposal_id: UUID,
    bus: BusDep,
    actor: Filer,
    response: Response,
    body: OptionalComment = None,
) -> ProposalOut:
    """Submit to the authorized migration body, with the region's indicators as evidence."""
    comment = None if body is None else body.comment
    command = c.SubmitProposal(proposal_id=proposal_id, comment=comment, actor=actor)
    return out(bus, await bus.handle(command), response)


@router.post(
    "/proposals/{proposal_id}/withdraw", responses={**ACT, **proposal_links(200)}, tags=["workflow"]
)
async def withdraw_proposal(
    proposal_id: UUID,
    bus: BusDep,
    actor: Filer,
    response: Response,
    body: OptionalComment = None,
) -> ProposalOut:
    comment = None if body is None else body.comment
    command = c.WithdrawProposal(proposal_id=proposal_id, comment=comment, actor=actor)
    return out(bus, await bus.handle(command), response)


@router.post(
    "/proposals/{proposal_id}/review", responses={**ACT, **proposal_links(200)}, tags=["workflow"]
)
async def review_proposal(
    proposal_id: UUID,
    bus: BusDep,
    actor: Decider,
    response: Response,
    body: OptionalComment = None,
) -> ProposalOut:
    comment = None if body is None else body.comment
    command = c.ReviewProposal(proposal_id=proposal_id, comment=comment, actor=actor)
    return out(bus, await bus.handle(command), response)


@router.post(
    "/proposals/{proposal_id}/approve", responses={**ACT, **proposal_links(200)}, tags=["workflow"]
)
async def approve_proposal(
    proposal_id: UUID,
    bus: BusDep,
    actor: Decider,
    response: Response,
    body: Annotated[ApproveIn | None, Body()] = None,
) -> ProposalOut:
    """Approve; a quota change may be approved with an amended `delta`."""
    body = body or ApproveIn()
    command = c.ApproveProposal(
        proposal_id=proposal_id, delta=body.delta, comment=body.comment, actor=actor
    )
    return out(bus, await bus.handle(command), response)


@router.post(
    "/proposals/{proposal_id}/reject", responses={**ACT, **proposal_links(200)}, tags=["workflow"]
)
async def reject_proposal(
    proposal_id: UUID, body: ReasonIn, bus: BusDep, actor: Decider, response: Response
) -> ProposalOut:
    command = c.RejectProposal(
        proposal_id=proposal_id, reason=body.reason, comment=body.comment, actor=actor
    )
    return out(bus, await bus.handle(command), response)


@router.post(
    "/proposals/{proposal_id}/return", responses={**ACT, **proposal_links(200)}, tags=["workflow"]
)
async def return_proposal(
    proposal_id: UUID, body: ReasonIn, bus: BusDep, actor: Decider, response: Response
) -> ProposalOut:
    """Return to the akimat for changes, with the reason."""
    command = c.ReturnProposal(
        proposal_id=proposal_id, reason=body.reason, comment=body.comment, actor=actor
    )
    return out(bus, await bus.handle(command), response)


@router.get("/proposals", responses=READ, tags=["proposals"])
async def list_proposals(
    engine: Engine,
    bus: BusDep,
    actor: Reader,
    page: PageQuery,
    region: Kato | None = None,
    status: Status | None = None,
    type: ProposalType | None = None,
    overdue: bool | None = None,
    stuck: bool | None = None,
) -> Page[ProposalOut]:
    """Proposals by filter; a token limited to a region lists that region's."""
    if region is not None:
        actor.require_region(region, field="region")
    where = queries.ProposalFilter(
        region=region or actor.region, status=status, type=type, overdue=overdue, stuck=stuck
    )
    now, after = bus.deps.now(), bus.deps.policy.stuck_after
    rows = await queries.list_proposals(
        engine,
        where,
        now=now,
        stuck_after=after,
        after=_uuid_cursor(page.after),
        limit=page.limit + 1,
    )
    items = [ProposalOut.of(p, now=now, stuck_after=after) for p in rows]
    return make_page(items, limit=page.limit, cursor_of=lambda p: (str(p.id),))


@router.get("/proposals/{proposal_id}", responses=ONE, tags=["proposals"])
async def get_proposal(
    proposal_id: UUID, engine: Engine, bus: BusDep, actor: Reader, response: Response
) -> ProposalDetail:
    """The proposal with its history and its evidence."""
    proposal, history = await queries.get_proposal(engine, proposal_id, actor)
    base = out(bus, proposal, response)
    return ProposalDetail(**base.model_dump(), history=[TransitionOut.of(t) for t in history])


def _uuid_cursor(after: tuple[object, ...] | None) -> UUID | None:
    if after is None:
        return None
    try:
        return UUID(str(after[0]))
    except (ValueError, IndexError):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor") from None


# --- regional rules (§2) -----------------------------------------------------------------------

KatoPath = Annotated[str, Path(pattern=KATO_PATTERN, description="the region's own KATO code")]


@router.get("/regions/{kato}/rules", responses=ONE, tags=["regional rules"])
async def list_rules(kato: KatoPath, engine: Engine, actor: Reader) -> RulesList:
    """Every version of the region's rules, newest first, and the one in force."""
    region = _region(kato, actor)
    items = await queries.list_rules(engine, region)
    in_force = next((r.id for r in items if r.status == "approved"), None)
    return RulesList(items=[RulesOut.of(r) for r in items], in_force=in_force)


@router.post(
    "/regions/{kato}/rules",
    status_code=201,
    responses={**ACT, **RULES_LINKS},
    tags=["regional rules"],
)
async def draft_rules(
    kato: KatoPath, body: RulesIn, bus: BusDep, actor: Filer, response: Response
) -> RulesOut:
    """A new draft version of the region's rules, by its akimat."""
    rules = await bus.handle(
        c.DraftRules(region=kato, title=body.title, text=body.text, actor=actor)
    )
    response.headers["Location"] = f"/v1/regions/{rules.region}/rules/{rules.id}"
    return RulesOut.of(rules)


@router.get("/regions/{kato}/rules/{rules_id}", responses=ONE, tags=["regional rules"])
async def get_rules(kato: KatoPath, rules_id: UUID, engine: Engine, actor: Reader) -> RulesOut:
    return RulesOut.of(await queries.get_rules(engine, _region(kato, actor), rules_id))


@router.get("/regions/{kato}/rules/{rules_id}/diff", responses=ONE, tags=["regional rules"])
async def diff_rules(
    kato: KatoPath, rules_id: UUID, against: UUID, engine: Engine, actor: Reader
) -> RulesDiffOut:
    """What changed from version `against` to this one (a unified diff)."""
    this, other, text = await queries.rules_diff(engine, _region(kato, actor), rules_id, against)
    return RulesDiffOut(
        rules_id=this.id,
        against=other.id,
        from_version=other.version,
        to_version=this.version,
        diff=text,
    )


@router.post("/regions/{kato}/rules/{rules_id}/approve", responses=ACT, tags=["regional rules"])
async def approve_rules(
    kato: KatoPath, rules_id: UUID, body: RulesApprovalIn, bus: BusDep, actor: Filer
) -> RulesOut:
    """Record the maslikhat's approval (decision number and date): this version comes into
    force, the one before it is superseded."""
    rules = await bus.handle(
        c.ApproveRules(
            region=kato,
            rules_id=rules_id,
            decision_number=body.decision_number,
            decision_date=body.decision_date,
            actor=actor,
        )
    )
    return RulesOut.of(rules)


def _region(kato: KatoPath, actor: Actor) -> str:
    """`kato` if it is a region's own code the caller may read, else 422 or 403."""
    try:
        region = kz.region_by_kato(kato).kato
    except InvalidInput as error:
        raise InvalidInput(error.detail, field="kato") from None
    actor.require_region(region, field="kato")
    return region
