"""The registration API (`/v1`): parse, build a command, `await bus.handle(command)`, answer
with the route's response model. Every route is a command, reads too: a read of personal
data writes its audit row in the same transaction.

Scopes: `registration:read`, `registration:write`, `registration:audit`. A token with a
region claim (an akimat) acts within its region only; the handlers check it, since only they
know which region a person, residence or application belongs to.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from koshiqon.common.auth import Principal, require_scopes
from koshiqon.common.errors import InvalidInput
from koshiqon.common.http.links import link, links
from koshiqon.common.http.pagination import Page, PageQuery, make_page
from koshiqon.common.http.problems import problem_responses
from koshiqon.common.http.text import WITHOUT_NUL
from koshiqon.common.messagebus import Actor
from koshiqon.registration.bus import Bus as RegistrationBus
from koshiqon.registration.domain import commands as c
from koshiqon.registration.domain.model import TravelDocument
from koshiqon.registration.domain.resettlement import ApplicationStatus
from koshiqon.registration.entrypoints.schemas import (
    ApplicationIn,
    ApplicationOut,
    AuditOut,
    Country,
    EmigrationIn,
    EmigrationOut,
    EndResidenceIn,
    IINText,
    PersonIn,
    PersonList,
    PersonOut,
    ResidenceIn,
    ResidenceList,
    ResidenceOut,
)

router = APIRouter(prefix="/v1")

Reader = Annotated[Principal, Depends(require_scopes("registration:read"))]
Writer = Annotated[Principal, Depends(require_scopes("registration:write"))]
Auditor = Annotated[Principal, Depends(require_scopes("registration:audit"))]

READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)

PERSON = "/v1/persons/{person_id}"
APPLICATION = "/v1/resettlement-applications/{application_id}"
CREATED_PERSON = links(
    201,
    get_person=link("GET", PERSON, person_id="$response.body#/id"),
    register_residence=link("POST", f"{PERSON}/residences", person_id="$response.body#/id"),
    list_residences=link("GET", f"{PERSON}/residences", person_id="$response.body#/id"),
    record_emigration=link("POST", f"{PERSON}/emigration", person_id="$response.body#/id"),
    list_audit=link("GET", "/v1/audit", **{"query.person_id": "$response.body#/id"}),
)
CREATED_RESIDENCE = links(
    201,
    end_residence=link(
        "POST",
        f"{PERSON}/residences/{{residence_id}}/end",
        person_id="$request.path.person_id",
        residence_id="$response.body#/id",
    ),
    list_residences=link("GET", f"{PERSON}/residences", person_id="$request.path.person_id"),
)
APPLICATION_LINKS = {
    "get_application": link("GET", APPLICATION, application_id="$response.body#/id"),
    "withdraw_application": link(
        "POST", f"{APPLICATION}/withdraw", application_id="$response.body#/id"
    ),
}


async def get_bus(request: Request) -> RegistrationBus:
    """`async`: a plain `def` dependency would run in the threadpool, a thread hop per request."""
    bus: RegistrationBus = request.app.state.bus
    return bus


Bus = Annotated[RegistrationBus, Depends(get_bus)]


def actor(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, agency=principal.agency, region=principal.region)


def route_of(request: Request) -> str:
    """`GET /v1/persons/{person_id}`: the template, for the audit row."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


# --- persons -------------------------------------------------------------------------------


@router.post(
    "/persons", status_code=201, responses={**WRITE_ERRORS, **CREATED_PERSON}, tags=["persons"]
)
async def register_person(
    body: PersonIn, principal: Writer, bus: Bus, response: Response
) -> PersonOut:
    """Enter a person in the register. One person per IIN (and per travel document)."""
    person = await bus.handle(
        c.RegisterPerson(
            actor=actor(principal),
            legal_status=body.legal_status,
            iin=body.iin,
            travel_document=body.travel_document_value(),
            surname_latin=body.surname_latin,
            given_names_latin=body.given_names_latin,
            surname_cyrillic=body.surname_cyrillic,
            given_names_cyrillic=body.given_names_cyrillic,
            birth_date=body.birth_date,
            sex=body.sex,
            citizenship=body.citizenship,
            ethnicity=body.ethnicity,
            kandas=body.kandas_value(),
        )
    )
    response.headers["Location"] = f"/v1/persons/{person.id}"
    return PersonOut.of(person)


@router.get("/persons/{person_id}", responses=READ_ERRORS, tags=["persons"])
async def get_person(
    person_id: uuid.UUID, principal: Reader, bus: Bus, request: Request
) -> PersonOut:
    command = c.GetPerson(actor=actor(principal), route=route_of(request), person_id=person_id)
    return PersonOut.of(await bus.handle(command))


@router.get("/persons", responses=READ_ERRORS, tags=["persons"])
async def find_persons(
    principal: Reader,
    bus: Bus,
    request: Request,
    iin: Annotated[IINText | None, Query()] = None,
    document_number: Annotated[str | None, Query(min_length=1, max_length=64), WITHOUT_NUL] = None,
    document_country: Annotated[Country | None, Query()] = None,
) -> PersonList:
    """Look a person up by IIN, or by travel document number and issuing country."""
    if (document_number is None) != (document_country is None):
        raise InvalidInput(
            "give document_number and document_country together", field="document_country"
        )
    document = (
        TravelDocument(document_number, document_country)
        if document_number and document_country
        else None
    )
    command = c.FindPersons(
        actor=actor(principal), route=route_of(request), iin=iin, travel_document=document
    )
    return PersonList(items=[PersonOut.of(p) for p in await bus.handle(command)])


# --- residences ----------------------------------------------------------------------------


@router.post(
    "/persons/{person_id}/residences",
    status_code=201,
    responses={**WRITE_ERRORS, **CREATED_RESIDENCE},
    tags=["residences"],
)
async def register_residence(
    person_id: uuid.UUID, body: ResidenceIn, principal: Writer, bus: Bus, response: Response
) -> ResidenceOut:
    """Register a permanent residence or a temporary stay. A new permanent registration ends
    the current one the day before; in another region that is an internal move."""
    a = body.address
    residence = await bus.handle(
        c.RegisterResidence(
            actor=actor(principal),
            person_id=person_id,
            kind=body.kind,
            kato=a.kato,
            street=a.street,
            building=a.building,
            apartment=a.apartment,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            purpose=body.purpose,
            arrived_from=body.arrived_from,
        )
    )
    response.headers["Location"] = f"/v1/persons/{person_id}/residences"
    return ResidenceOut.of(residence)


@router.post(
    "/persons/{person_id}/residences/{residence_id}/end",
    responses=WRITE_ERRORS,
    tags=["residences"],
)
async def end_residence(
    person_id: uuid.UUID,
    residence_id: uuid.UUID,
    body: EndResidenceIn,
    principal: Writer,
    bus: Bus,
) -> ResidenceOut:
    command = c.EndResidence(
        actor=actor(principal),
        person_id=person_id,
        residence_id=residence_id,
        ended_on=body.ended_on,
    )
    return ResidenceOut.of(await bus.handle(command))


@router.get("/persons/{person_id}/residences", responses=READ_ERRORS, tags=["residences"])
async def list_residences(
    person_id: uuid.UUID, principal: Reader, bus: Bus, request: Request
) -> ResidenceList:
    command = c.ListResidences(actor=actor(principal), route=route_of(request), person_id=person_id)
    return ResidenceList(items=[ResidenceOut.of(r) for r in await bus.handle(command)])


@router.post("/persons/{person_id}/emigration", responses=WRITE_ERRORS, tags=["residences"])
async def record_emigration(
    person_id: uuid.UUID, body: EmigrationIn, principal: Writer, bus: Bus
) -> EmigrationOut:
    """Deregistration on departure abroad: every active registration ends."""
    ended = await bus.handle(
        c.RecordEmigration(
            actor=actor(principal),
            person_id=person_id,
            destination_country=body.destination_country,
            departed_on=body.departed_on,
        )
    )
    return EmigrationOut(
        person_id=person_id,
        destination_country=body.destination_country,
        departed_on=body.departed_on,
        ended=[ResidenceOut.of(r) for r in ended],
    )


# --- resettlement applications -------------------------------------------------------------


@router.post(
    "/resettlement-applications",
    status_code=201,
    responses={**WRITE_ERRORS, **links(201, **APPLICATION_LINKS)},
    tags=["resettlement"],
)
async def apply_for_resettlement(
    body: ApplicationIn, principal: Writer, bus: Bus, response: Response
) -> ApplicationOut:
    """Apply for resettlement with state support under the target region's quota (§7). The
    status follows the quota service's answer; a denial never restricts registration (§3)."""
    application = await bus.handle(
        c.ApplyForResettlement(
            actor=actor(principal),
            applicant_id=body.applicant_id,
            category=body.category,
            family_member_ids=tuple(body.family_member_ids),
            target_region=body.target_region,
            target_year=body.target_year,
        )
    )
    response.headers["Location"] = f"/v1/resettlement-applications/{application.id}"
    return ApplicationOut.of(application)


@router.get(
    "/resettlement-applications/{application_id}", responses=READ_ERRORS, tags=["resettlement"]
)
async def get_application(
    application_id: uuid.UUID, principal: Reader, bus: Bus, request: Request
) -> ApplicationOut:
    command = c.GetApplication(
        actor=actor(principal), route=route_of(request), application_id=application_id
    )
    return ApplicationOut.of(await bus.handle(command))


@router.post(
    "/resettlement-applications/{application_id}/withdraw",
    responses={**WRITE_ERRORS, **links(200, **APPLICATION_LINKS)},
    tags=["resettlement"],
)
async def withdraw_application(
    application_id: uuid.UUID, principal: Writer, bus: Bus
) -> ApplicationOut:
    command = c.WithdrawApplication(actor=actor(principal), application_id=application_id)
    return ApplicationOut.of(await bus.handle(command))


@router.get("/resettlement-applications", responses=READ_ERRORS, tags=["resettlement"])
async def list_applications(
    principal: Reader,
    bus: Bus,
    request: Request,
    params: PageQuery,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    status: ApplicationStatus | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Page[ApplicationOut]:
    found = await bus.handle(
        c.ListApplications(
            actor=actor(principal),
            route=route_of(request),
            region=region,
            status=status,
            year=year,
            after=_application_cursor(params.after),
            limit=params.limit + 1,
        )
    )
    items = [ApplicationOut.of(a) for a in found]
    return make_page(
        items, limit=params.limit, cursor_of=lambda a: (a.requested_at.isoformat(), str(a.id))
    )


def _application_cursor(after: tuple[Any, ...] | None) -> tuple[datetime, uuid.UUID] | None:
    if after is None:
        return None
    try:
        at, application_id = after
        return datetime.fromisoformat(at), uuid.UUID(application_id)
    except (TypeError, ValueError):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor") from None


# --- audit ---------------------------------------------------------------------------------


@router.get("/audit", responses=READ_ERRORS, tags=["audit"])
async def list_audit(
    principal: Auditor, bus: Bus, params: PageQuery, person_id: Annotated[uuid.UUID, Query()]
) -> Page[AuditOut]:
    """Who read this person's data, when, and through which route."""
    after = _audit_cursor(params.after)
    entries = await bus.handle(
        c.ListAudit(
            actor=actor(principal), person_id=person_id, after=after, limit=params.limit + 1
        )
    )
    return make_page(
        [AuditOut.of(e) for e in entries], limit=params.limit, cursor_of=lambda e: (e.id,)
    )


def _audit_cursor(after: tuple[Any, ...] | None) -> int | None:
    if after is None:
        return None
    if len(after) != 1 or not isinstance(after[0], int) or isinstance(after[0], bool):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor")
    return after[0]
