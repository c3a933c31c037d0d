"""One `async def verb_noun(message, deps)` per command and per consumed event; the routing
tables at the foot (`COMMAND_HANDLERS` for the bus, `EVENT_HANDLERS` for the consumer).

Each handler is one transaction: `async with deps.uow() as uow: ... await uow.commit()`, and
every event leaves through `uow.emit(..., subject=)` naming its aggregate: the person for
person and residence events, the application for resettlement events. Writes to a person
lock the person's row first, so the rules that look at the person's other registrations
hold under concurrency; unique indexes back the rest.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.quota import (
    QuotaConsumptionRefused,
    QuotaDenied,
    QuotaExpired,
    QuotaReleased,
    QuotaReserved,
)
from koshiqon.common.kz import IIN, is_region_code, kz_today
from koshiqon.common.messagebus import Actor, Handler, OutsideRegion
from koshiqon.registration import metrics
from koshiqon.registration.bus import Deps
from koshiqon.registration.domain import commands as c
from koshiqon.registration.domain.errors import (
    ApplicationNotFound,
    InvalidInput,
    PersonNotFound,
    ResidenceNotFound,
)
from koshiqon.registration.domain.model import (
    Address,
    AuditEntry,
    EndReason,
    Person,
    Residence,
    check_identity,
    emigrate,
    home_region,
    register,
)
from koshiqon.registration.domain.resettlement import ResettlementApplication
from koshiqon.registration.unit_of_work import UnitOfWork

log = logging.getLogger("koshiqon.registration")

# --- persons -------------------------------------------------------------------------------


async def register_person(cmd: c.RegisterPerson, deps: Deps) -> Person:
    person = Person(
        id=uuid.uuid4(),
        legal_status=cmd.legal_status,
        iin=cmd.iin,
        travel_document=cmd.travel_document,
        surname_latin=cmd.surname_latin,
        given_names_latin=cmd.given_names_latin,
        surname_cyrillic=cmd.surname_cyrillic,
        given_names_cyrillic=cmd.given_names_cyrillic,
        birth_date=cmd.birth_date,
        sex=cmd.sex,
        citizenship=cmd.citizenship,
        ethnicity=cmd.ethnicity,
        kandas=cmd.kandas,
        created_at=deps.now(),
        created_in_region=cmd.actor.region,
    )
    check_identity(person)
    if person.birth_date > kz_today(person.created_at):
        raise InvalidInput("the birth date is in the future", field="birth_date")
    async with deps.uow() as uow:
        await uow.persons.add(person)
        uow.emit(person.registered_event(), subject=person.id)
        await uow.commit()
    return person


async def _visible_person(uow: UnitOfWork, actor: Actor, person_id: uuid.UUID) -> Person:
    """The person, if this caller may see them: nationwide callers see everyone; an akimat
    sees a person it entered or who was ever registered in its region."""
    person = await uow.persons.get(person_id)
    if person is None:
        raise PersonNotFound(person_id)
    if actor.region is None or _visible_in(
        person, actor.region, await uow.persons.regions(person.id)
    ):
        return person
    raise OutsideRegion(actor.region, field="person_id")


def _visible_in(person: Person, region: str, regions: set[str]) -> bool:
    return person.created_in_region == region or region in regions


async def _audit(
    uow: UnitOfWork, cmd: c.Read[Any], deps: Deps, person_ids: Sequence[uuid.UUID]
) -> None:
    await uow.audit.record(
        cmd.actor, person_ids=person_ids, route=cmd.route, correlation_id=deps.correlation_id()
    )


async def get_person(cmd: c.GetPerson, deps: Deps) -> Person:
    async with deps.uow() as uow:
        person = await _visible_person(uow, cmd.actor, cmd.person_id)
        await _audit(uow, cmd, deps, [person.id])
        await uow.commit()
    return person


async def find_persons(cmd: c.FindPersons, deps: Deps) -> list[Person]:
    """By IIN or by travel document; an akimat finds only the persons it may see."""
    if cmd.iin is None and cmd.travel_document is None:
        raise InvalidInput("give iin, or document_number with document_country", field="iin")
    if cmd.iin is not None:
        IIN.parse(cmd.iin)
    async with deps.uow() as uow:
        found = await uow.persons.find(iin=cmd.iin, travel_document=cmd.travel_document)
        region = cmd.actor.region
        if region is not None:
            found = [p for p in found if _visible_in(p, region, await uow.persons.regions(p.id))]
        await _audit(uow, cmd, deps, [p.id for p in found])
        await uow.commit()
    return found


# --- residence registrations ---------------------------------------------------------------


async def register_residence(cmd: c.RegisterResidence, deps: Deps) -> Residence:
    address = Address.parse(
        kato=cmd.kato, street=cmd.street, building=cmd.building, apartment=cmd.apartment
    )
    cmd.actor.require_region(address.region, field="address.kato")
    new = Residence(
        id=uuid.uuid4(),
        person_id=cmd.person_id,
        kind=cmd.kind,
        address=address,
        valid_from=cmd.valid_from,
        valid_until=cmd.valid_until,
        purpose=cmd.purpose,
        arrived_from=cmd.arrived_from,
    )
    async with deps.uow() as uow:
        person = await uow.persons.get(cmd.person_id, lock=True)
        if person is None:
            raise PersonNotFound(cmd.person_id)
        outcome = register(person, new, active=await uow.residences.concerning(new))
        for ended in outcome.ended:
            await uow.residences.end(ended)
        await uow.residences.add(new)
        uow.emit(*outcome.events, subject=person.id)
        await _complete_resettlement(uow, new)
        await uow.commit()
    return new


async def _complete_resettlement(uow: UnitOfWork, residence: Residence) -> None:
    """A permanent registration in the target region completes an approved application."""
    if residence.kind.value != "permanent":
        return
    application = await uow.applications.approved_for(residence.person_id, region=residence.region)
    if application is None:
        return
    done, events = application.complete(settlement=residence.address.kato, on=residence.valid_from)
    await uow.applications.save(done, was=application.status)
    uow.emit(*events, subject=application.id)


async def end_residence(cmd: c.EndResidence, deps: Deps) -> Residence:
    async with deps.uow() as uow:
        person = await uow.persons.get(cmd.person_id, lock=True)
        if person is None:
            raise PersonNotFound(cmd.person_id)
        residence = await uow.residences.get(person.id, cmd.residence_id)
        if residence is None:
            raise ResidenceNotFound(cmd.residence_id)
        cmd.actor.require_region(residence.region, field="residence_id")
        ended = residence.ended(on=cmd.ended_on, reason=EndReason.DEREGISTERED)
        await uow.residences.end(ended)
        uow.emit(ended.ended_event(person), subject=person.id)
        await uow.commit()
    return ended


async def list_residences(cmd: c.ListResidences, deps: Deps) -> list[Residence]:
    """A person's registrations; an akimat sees those in its region only."""
    async with deps.uow() as uow:
        person = await _visible_person(uow, cmd.actor, cmd.person_id)
        found = await uow.residences.of_person(person.id, region=cmd.actor.region)
        await _audit(uow, cmd, deps, [person.id])
        await uow.commit()
    return found


async def record_emigration(cmd: c.RecordEmigration, deps: Deps) -> list[Residence]:
    """Deregistration on departure abroad, by the akimat of the person's home region (or a
    nationwide caller)."""
    async with deps.uow() as uow:
        person = await uow.persons.get(cmd.person_id, lock=True)
        if person is None:
            raise PersonNotFound(cmd.person_id)
        active = await uow.residences.active(person.id)
        if active:
            cmd.actor.require_region(home_region(active), field="person_id")
        emigration = emigrate(
            person, active=active, destination=cmd.destination_country, departed_on=cmd.departed_on
        )
        for ended in emigration.ended:
            await uow.residences.end(ended)
        uow.emit(*emigration.events, subject=person.id)
        await uow.commit()
    return emigration.ended


async def expire_temporary_stays(cmd: c.ExpireTemporaryStays, deps: Deps) -> int:
    """End (one batch of) the temporary stays whose valid_until has passed; returns how many."""
    async with deps.uow() as uow:
        due = await uow.residences.due_temporary(today=cmd.today, limit=cmd.batch_size)
        for residence in due:
            person = await uow.persons.get(residence.person_id)
            assert person is not None  # a foreign key
            assert residence.valid_until is not None
            ended = residence.ended(on=residence.valid_until, reason=EndReason.EXPIRED)
            if await uow.residences.end(ended):
                uow.emit(ended.ended_event(person), subject=person.id)
        await uow.commit()
    return len(due)


# --- resettlement applications -------------------------------------------------------------


async def apply_for_resettlement(
    cmd: c.ApplyForResettlement, deps: Deps
) -> ResettlementApplication:
    if not is_region_code(cmd.target_region):
        raise InvalidInput(
            "target_region is a region's own KATO code (AB0000000)", field="target_region"
        )
    cmd.actor.require_region(cmd.target_region, field="target_region")
    async with deps.uow() as uow:
        applicant = await uow.persons.get(cmd.applicant_id, lock=True)
        if applicant is None:
            raise InvalidInput(f"no person {cmd.applicant_id}", field="applicant_id")
        await _require_family(uow, cmd.family_member_ids)
        application = ResettlementApplication.new(
            id=uuid.uuid4(),
            applicant=applicant,
            category=cmd.category,
            family_member_ids=cmd.family_member_ids,
            target_region=cmd.target_region,
            target_year=cmd.target_year,
            requested_at=deps.now(),
        )
        await uow.applications.add(application)
        uow.emit(application.requested_event(), subject=application.id)
        await uow.commit()
    return application


async def _require_family(uow: UnitOfWork, member_ids: Sequence[uuid.UUID]) -> None:
    known = {p.id for p in await uow.persons.get_many(member_ids)}
    for index, member_id in enumerate(member_ids):
        if member_id not in known:
            raise InvalidInput(f"no person {member_id}", field=f"family_member_ids[{index}]")


def _application_persons(application: ResettlementApplication) -> list[uuid.UUID]:
    return [application.applicant_id, *application.family_member_ids]


async def get_application(cmd: c.GetApplication, deps: Deps) -> ResettlementApplication:
    async with deps.uow() as uow:
        application = await uow.applications.get(cmd.application_id)
        if application is None:
            raise ApplicationNotFound(cmd.application_id)
        cmd.actor.require_region(application.target_region, field="application_id")
        await _audit(uow, cmd, deps, _application_persons(application))
        await uow.commit()
    return application


async def withdraw_application(cmd: c.WithdrawApplication, deps: Deps) -> ResettlementApplication:
    async with deps.uow() as uow:
        application = await uow.applications.get(cmd.application_id, lock=True)
        if application is None:
            raise ApplicationNotFound(cmd.application_id)
        cmd.actor.require_region(application.target_region, field="application_id")
        withdrawn, events = application.withdraw(at=deps.now())
        await uow.applications.save(withdrawn, was=application.status)
        uow.emit(*events, subject=application.id)
        await uow.commit()
    return withdrawn


async def request_quota_again(cmd: c.RequestQuotaAgain, deps: Deps) -> int:
    """Publish the request again for (at most `cmd.limit` of) the applications still
    pending_quota whose quota was last asked `cmd.pending_for` ago or more; returns how many.
    The quota service answers a repeated request with its first outcome, so an application
    whose request or outcome was lost on the way is decided after all."""
    now = deps.now()
    asked = 0
    async with deps.uow() as uow:
        due = await uow.applications.pending_quota(
            asked_before=now - cmd.pending_for, limit=cmd.limit
        )
        for application in due:
            again, events = application.request_quota_again(at=now)
            if events and await uow.applications.save(again, was=application.status):
                uow.emit(*events, subject=application.id)
                asked += 1
        await uow.commit()
    metrics.QUOTA_REQUESTED_AGAIN.inc(asked)
    return asked


async def list_applications(cmd: c.ListApplications, deps: Deps) -> list[ResettlementApplication]:
    """Fetches `cmd.limit` rows (the route asks one more to know whether a page follows)."""
    region = cmd.region
    if region is not None and not is_region_code(region):
        raise InvalidInput("region is a region's own KATO code (AB0000000)", field="region")
    if cmd.actor.region is not None:
        cmd.actor.require_region(region or cmd.actor.region, field="region")
        region = cmd.actor.region
    async with deps.uow() as uow:
        found = await uow.applications.search(
            region=region, status=cmd.status, year=cmd.year, after=cmd.after, limit=cmd.limit
        )
        await _audit(uow, cmd, deps, [p for a in found for p in _application_persons(a)])
        await uow.commit()
    return found


async def list_audit(cmd: c.ListAudit, deps: Deps) -> list[AuditEntry]:
    async with deps.uow() as uow:
        await _visible_person(uow, cmd.actor, cmd.person_id)
        entries = await uow.audit.of_person(cmd.person_id, after=cmd.after, limit=cmd.limit)
        await uow.commit()
    return entries


# --- consumed quota.v1 events (the resettlement saga) --------------------------------------

Change = Callable[[ResettlementApplication], tuple[ResettlementApplication, list[EventPayload]]]


async def _quota_outcome(
    deps: Deps, event: EventPayload, application_id: uuid.UUID, change: Change
) -> None:
    """Apply one outcome under the application's row lock; the stored transition is
    conditional on the status it was computed from. Duplicates were skipped by the runner;
    an outcome the status does not allow only records its stamp.

    An outcome for an application registration does not hold is for a reservation it never
    requested (one made over the quota API, a foreign labour one): it is counted and ignored,
    not dead-lettered, and nothing is written."""
    async with deps.uow() as uow:
        application = await uow.applications.get(application_id, lock=True)
        if application is None:
            _ignore_outcome(event, application_id)
            return
        changed, events = change(application)
        if changed != application:
            await uow.applications.save(changed, was=application.status)
        uow.emit(*events, subject=application.id)
        await uow.commit()


def _ignore_outcome(event: EventPayload, application_id: uuid.UUID) -> None:
    name = event.contract.name
    metrics.QUOTA_OUTCOMES_IGNORED.labels(event=name).inc()
    log.info(
        "registration.quota-outcome-ignored",
        extra={"event": name, "application_id": str(application_id)},
    )


async def on_quota_reserved(event: QuotaReserved, deps: Deps) -> None:
    await _quota_outcome(
        deps,
        event,
        event.application_id,
        lambda a: a.quota_reserved(quota_id=event.quota_id, at=event.reserved_at),
    )


async def on_quota_denied(event: QuotaDenied, deps: Deps) -> None:
    await _quota_outcome(
        deps,
        event,
        event.application_id,
        lambda a: a.quota_denied(reason=event.reason.value, at=event.denied_at),
    )


async def on_quota_released(event: QuotaReleased, deps: Deps) -> None:
    await _quota_outcome(
        deps,
        event,
        event.application_id,
        lambda a: (a.quota_released(reason=event.reason.value, at=event.released_at), []),
    )


async def on_quota_expired(event: QuotaExpired, deps: Deps) -> None:
    await _quota_outcome(
        deps, event, event.application_id, lambda a: (a.quota_expired(at=event.expired_at), [])
    )


async def on_quota_consumption_refused(event: QuotaConsumptionRefused, deps: Deps) -> None:
    """A completion the quota service could not match with a held reservation (it had
    expired or been released before the completion reached it): the application stays
    completed (the move is free, §3) and its quota_expired_at or quota_released_at stamp,
    recorded when that outcome came, is registration's side of the record; the refusal is
    counted and logged for reconciliation."""
    metrics.QUOTA_CONSUMPTION_REFUSED.labels(status=event.status.value).inc()
    log.warning(
        "registration.quota-consumption-refused",
        extra={
            "application_id": str(event.application_id),
            "status": event.status.value,
            "reason": event.reason.value,
        },
    )


# --- routing -------------------------------------------------------------------------------

COMMAND_HANDLERS: dict[type[c.Command[Any]], Handler[Deps]] = {
    c.RegisterPerson: register_person,
    c.GetPerson: get_person,
    c.FindPersons: find_persons,
    c.RegisterResidence: register_residence,
    c.EndResidence: end_residence,
    c.ListResidences: list_residences,
    c.RecordEmigration: record_emigration,
    c.ExpireTemporaryStays: expire_temporary_stays,
    c.ApplyForResettlement: apply_for_resettlement,
    c.GetApplication: get_application,
    c.WithdrawApplication: withdraw_application,
    c.RequestQuotaAgain: request_quota_again,
    c.ListApplications: list_applications,
    c.ListAudit: list_audit,
}

EVENT_HANDLERS: dict[type[EventPayload], Handler[Deps]] = {
    QuotaReserved: on_quota_reserved,
    QuotaDenied: on_quota_denied,
    QuotaReleased: on_quota_released,
    QuotaExpired: on_quota_expired,
    QuotaConsumptionRefused: on_quota_consumption_refused,
}
