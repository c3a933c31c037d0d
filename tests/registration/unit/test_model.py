"""The domain's rules, pure: persons, registrations, moves, migrations, the saga's states."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from koshiqon.common.errors import Conflict, InvalidInput
from koshiqon.common.events.registration import (
    PersonEmigrated,
    PersonImmigrated,
    PersonMoved,
    ResettlementApproved,
    ResettlementRejected,
    ResidenceEnded,
    ResidenceRegistered,
)
from koshiqon.common.kz import Sex
from koshiqon.registration.domain.errors import InvalidTransition, OverlappingStay
from koshiqon.registration.domain.model import (
    Address,
    EndReason,
    KandasStatus,
    LegalStatus,
    Person,
    Residence,
    ResidenceKind,
    StayPurpose,
    TravelDocument,
    check_identity,
    concerns,
    emigrate,
    register,
)
from koshiqon.registration.domain.resettlement import (
    ApplicationStatus,
    ResettlementApplication,
    ResettlementCategory,
)

AT = datetime(2026, 1, 10, tzinfo=UTC)
PETROPAVL = "591010000"  # North Kazakhstan
KOSTANAY = "391010000"


def person(**changes: object) -> Person:
    fields: dict[str, object] = dict(  # noqa: C408
        id=uuid.uuid4(),
        legal_status=LegalStatus.CITIZEN,
        iin="791028302728",
        travel_document=None,
        surname_latin="Abenov",
        given_names_latin="Nurlan",
        surname_cyrillic="Абенов",
        given_names_cyrillic="Нурлан",
        birth_date=date(1979, 10, 28),
        sex=Sex.MALE,
        citizenship="KAZ",
        ethnicity=None,
        kandas=None,
        created_at=AT,
    )
    fields.update(changes)
    return Person(**fields)  # type: ignore[arg-type]


def residence(p: Person, **changes: object) -> Residence:
    fields: dict[str, object] = dict(  # noqa: C408
        id=uuid.uuid4(),
        person_id=p.id,
        kind=ResidenceKind.PERMANENT,
        address=Address(kato=PETROPAVL, street="Abaya", building="12", apartment="4"),
        valid_from=date(2020, 1, 1),
        valid_until=None,
        purpose=None,
    )
    fields.update(changes)
    return Residence(**fields)  # type: ignore[arg-type]


def temporary(p: Person, start: date, end: date, **changes: object) -> Residence:
    return residence(
        p,
        kind=ResidenceKind.TEMPORARY,
        valid_from=start,
        valid_until=end,
        purpose=StayPurpose.WORK,
        **changes,
    )


# --- identity ------------------------------------------------------------------------------


def test_a_valid_citizen_passes() -> None:
    check_identity(person())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"iin": None}, "iin"),
        ({"iin": "791028302729"}, "iin"),  # check digit
        ({"iin": "791328302728"}, "iin"),  # month 13
        ({"iin": "791028902728"}, "iin"),  # century digit 9
        ({"birth_date": date(1979, 10, 29)}, "birth_date"),
        ({"sex": Sex.FEMALE}, "sex"),
        ({"citizenship": "RUS"}, "citizenship"),
        ({"legal_status": LegalStatus.STATELESS}, "citizenship"),
        ({"legal_status": LegalStatus.FOREIGNER}, "citizenship"),
        ({"kandas": KandasStatus("K-1", date(1970, 1, 1))}, "kandas.certificate_date"),
    ],
)
def test_identity_refusals_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_identity(person(**changes))
    assert refused.value.field == field


def test_a_foreigner_without_iin_needs_a_travel_document() -> None:
    foreigner = person(legal_status=LegalStatus.FOREIGNER, iin=None, citizenship="CHN")
    with pytest.raises(InvalidInput) as refused:
        check_identity(foreigner)
    assert refused.value.field == "travel_document"
    check_identity(replace_doc(foreigner))


def replace_doc(p: Person) -> Person:
    return person(
        id=p.id,
        legal_status=p.legal_status,
        iin=None,
        citizenship=p.citizenship,
        travel_document=TravelDocument("E1234567", "CHN"),
    )


# --- residence registrations ---------------------------------------------------------------


def test_address_refuses_an_unknown_kato_region() -> None:
    with pytest.raises(InvalidInput) as refused:
        Address.parse(kato="991010000", street="x", building="1", apartment=None)
    assert refused.value.field == "address.kato"
    assert Address.parse(kato="59 10 10 000", street="x", building="1", apartment=None).kato == (
        PETROPAVL
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": ResidenceKind.TEMPORARY, "purpose": StayPurpose.WORK}, "valid_until"),
        ({"kind": ResidenceKind.TEMPORARY, "valid_until": date(2021, 1, 1)}, "purpose"),
        ({"valid_until": date(2021, 1, 1)}, "valid_until"),
        ({"purpose": StayPurpose.STUDY}, "purpose"),
        (
            {
                "kind": ResidenceKind.TEMPORARY,
                "purpose": StayPurpose.WORK,
                "valid_until": date(2019, 1, 1),
            },
            "valid_until",
        ),
        ({"valid_from": date(1970, 1, 1)}, "valid_from"),  # before the birth date
    ],
)
def test_registration_refusals_name_the_field(changes: dict[str, object], field: str) -> None:
    p = person()
    with pytest.raises(InvalidInput) as refused:
        register(p, residence(p, **changes), active=[])
    assert refused.value.field == field


def test_a_first_registration_emits_residence_registered_only() -> None:
    p = person()
    outcome = register(p, residence(p), active=[])
    assert [type(e) for e in outcome.events] == [ResidenceRegistered]
    assert outcome.ended == []


def test_the_flow_events_say_whether_the_person_is_a_kandas() -> None:
    """Monitoring counts arrivals and departures by kandas status: the residence, move,
    immigration and emigration events carry it (no certificate number: only the flag)."""
    for status, expected in ((None, False), (KandasStatus("K-9", date(2019, 1, 1)), True)):
        p = person(kandas=status)
        old = residence(p)
        new = residence(
            p,
            address=Address(kato=KOSTANAY, street="Baitursynov", building="3"),
            valid_from=date(2025, 6, 1),
        )
        moved = register(p, new, active=[old]).events
        left = emigrate(p, active=[new], destination="RUS", departed_on=date(2025, 9, 1)).events
        flags = [getattr(e, "kandas", "missing") for e in [*moved, *left]]
        assert flags == [expected] * len(flags), (status, flags)


def test_a_new_permanent_registration_in_another_region_is_a_move() -> None:
    p = person()
    old = residence(p)
    new = residence(
        p,
        address=Address(kato=KOSTANAY, street="Baitursynov", building="3"),
        valid_from=date(2025, 6, 1),
    )
    outcome = register(p, new, active=[old])
    assert [type(e) for e in outcome.events] == [ResidenceEnded, ResidenceRegistered, PersonMoved]
    (ended,) = outcome.ended
    assert ended.ended_on == date(2025, 5, 31)
    assert ended.end_reason is EndReason.REPLACED
    moved = outcome.events[2]
    assert isinstance(moved, PersonMoved)
    assert (moved.from_region, moved.to_region) == ("590000000", "390000000")


def test_a_new_permanent_registration_in_the_same_region_is_no_move() -> None:
    p = person()
    new = residence(
        p,
        address=Address(kato="593230100", street="Lenina", building="1"),
        valid_from=date(2024, 1, 1),
    )
    outcome = register(p, new, active=[residence(p)])
    assert not any(isinstance(e, PersonMoved) for e in outcome.events)


def test_a_new_permanent_registration_must_start_after_the_current_one() -> None:
    p = person()
    with pytest.raises(InvalidInput) as refused:
        register(p, residence(p, valid_from=date(2020, 1, 1)), active=[residence(p)])
    assert refused.value.field == "valid_from"


def test_overlapping_temporary_stays_at_one_address_are_refused() -> None:
    p = person()
    first = temporary(p, date(2025, 1, 1), date(2025, 6, 30))
    with pytest.raises(OverlappingStay):
        register(p, temporary(p, date(2025, 6, 30), date(2025, 12, 31)), active=[first])
    # the day after, or another address, is fine
    register(p, temporary(p, date(2025, 7, 1), date(2025, 12, 31)), active=[first])
    elsewhere = Address(kato=PETROPAVL, street="Abaya", building="12", apartment="5")
    register(p, temporary(p, date(2025, 2, 1), date(2025, 3, 1), address=elsewhere), active=[first])


def test_a_registration_concerns_only_what_its_rules_look_at() -> None:
    p = person()
    current = residence(p)
    spring = temporary(p, date(2025, 3, 1), date(2025, 5, 31))
    autumn = temporary(p, date(2025, 9, 1), date(2025, 11, 30))
    held = [current, spring, autumn]

    def concerned(new: Residence) -> list[Residence]:
        return [r for r in held if concerns(new, r)]

    # a new permanent registration: the current permanent one, which it ends
    assert concerned(residence(p, valid_from=date(2025, 6, 1))) == [current]
    # a stay: the stays its dates overlap, edge days included, and no permanent one
    assert concerned(temporary(p, date(2025, 5, 31), date(2025, 9, 1))) == [spring, autumn]
    assert concerned(temporary(p, date(2025, 6, 1), date(2025, 8, 31))) == []
    # an arrival from abroad: every active one, since any of them refuses it
    arrival = temporary(p, date(2026, 1, 1), date(2026, 1, 2), arrived_from="CHN")
    assert concerned(arrival) == held
    with pytest.raises(InvalidTransition):
        register(p, arrival, active=concerned(arrival))
    # what it is not given does not change the outcome
    new = temporary(p, date(2025, 6, 1), date(2025, 8, 31))
    assert register(p, new, active=concerned(new)).events == register(p, new, active=held).events


def test_same_address_is_compared_without_case_and_spacing() -> None:
    a = Address(kato=PETROPAVL, street="Abaya  St", building="12", apartment=None)
    assert a.same_place(Address(kato=PETROPAVL, street="abaya st", building="12"))


def test_a_first_registration_on_arrival_is_an_immigration() -> None:
    p = person(
        legal_status=LegalStatus.FOREIGNER,
        iin=None,
        citizenship="CHN",
        travel_document=TravelDocument("E1", "CHN"),
    )
    outcome = register(p, residence(p, arrived_from="CHN"), active=[])
    immigrated = outcome.events[-1]
    assert isinstance(immigrated, PersonImmigrated)
    assert immigrated.country_of_origin == "CHN"
    assert immigrated.region == "590000000"


def test_an_arrival_while_registered_is_refused() -> None:
    p = person()
    new = residence(p, arrived_from="RUS", valid_from=date(2025, 1, 1))
    with pytest.raises(InvalidTransition) as refused:
        register(p, new, active=[residence(p)])
    assert refused.value.field == "arrived_from"


def test_emigration_ends_every_active_registration() -> None:
    p = person()
    active = [
        residence(p),
        temporary(
            p,
            date(2025, 1, 1),
            date(2026, 12, 31),
            address=Address(kato=KOSTANAY, street="x", building="1"),
        ),
    ]
    out = emigrate(p, active=active, destination="DEU", departed_on=date(2026, 2, 1))
    assert {r.ended_on for r in out.ended} == {date(2026, 2, 1)}
    assert {r.end_reason for r in out.ended} == {EndReason.EMIGRATED}
    emigrated = out.events[-1]
    assert isinstance(emigrated, PersonEmigrated)
    assert emigrated.region == "590000000"  # the permanent registration's region
    assert emigrated.destination_country == "DEU"


def test_emigration_without_registration_or_to_kazakhstan_is_refused() -> None:
    p = person()
    with pytest.raises(Conflict):
        emigrate(p, active=[], destination="DEU", departed_on=date(2026, 2, 1))
    with pytest.raises(InvalidInput):
        emigrate(p, active=[residence(p)], destination="KAZ", departed_on=date(2026, 2, 1))


def test_no_personal_data_in_events() -> None:
    p = person(ethnicity="kazakh", kandas=KandasStatus("K-77", date(2019, 1, 1)))
    events = [
        p.registered_event(),
        *register(p, residence(p, arrived_from="MNG"), active=[]).events,
    ]
    for e in events:
        dumped = e.model_dump_json()
        for secret in ("791028302728", "Abenov", "Nurlan", "Абенов", "kazakh", "K-77", "1979"):
            assert secret not in dumped


# --- resettlement applications -------------------------------------------------------------


def application(**changes: object) -> ResettlementApplication:
    applicant = person(kandas=KandasStatus("K-1", date(2020, 1, 1)))
    return ResettlementApplication.new(
        id=uuid.uuid4(),
        applicant=applicant,
        category=ResettlementCategory.KANDAS,
        family_member_ids=[uuid.uuid4(), uuid.uuid4()],
        target_region="590000000",
        target_year=2026,
        requested_at=AT,
    )


def test_an_application_counts_the_whole_family() -> None:
    assert application().persons == 3
    assert application().requested_event().persons == 3


@pytest.mark.parametrize(
    ("category", "region", "field"),
    [
        (ResettlementCategory.KANDAS, "590000000", "category"),  # no kandas status
        (ResettlementCategory.MIGRANT, "591010000", "target_region"),  # not a region code
    ],
)
def test_application_refusals(category: ResettlementCategory, region: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        ResettlementApplication.new(
            id=uuid.uuid4(),
            applicant=person(),
            category=category,
            family_member_ids=[],
            target_region=region,
            target_year=2026,
            requested_at=AT,
        )
    assert refused.value.field == field


def test_reserved_approves_a_pending_application_once() -> None:
    quota = uuid.uuid4()
    approved, events = application().quota_reserved(quota_id=quota, at=AT)
    assert approved.status is ApplicationStatus.APPROVED
    assert [type(e) for e in events] == [ResettlementApproved]
    again, more = approved.quota_reserved(quota_id=quota, at=AT)
    assert (again.status, more) == (ApplicationStatus.APPROVED, [])


def test_denied_rejects_with_the_quota_reason() -> None:
    rejected, events = application().quota_denied(reason="exhausted", at=AT)
    assert rejected.status is ApplicationStatus.REJECTED
    assert rejected.rejection_reason == "exhausted"
    assert isinstance(events[0], ResettlementRejected)
    late, none = rejected.quota_reserved(quota_id=uuid.uuid4(), at=AT)
    assert (late.status, none) == (ApplicationStatus.REJECTED, [])


def test_a_release_before_the_reservation_does_not_resurrect() -> None:
    released = application().quota_released(reason="withdrawn", at=AT)
    assert released.status is ApplicationStatus.WITHDRAWN
    late, events = released.quota_reserved(quota_id=uuid.uuid4(), at=AT)
    assert (late.status, events) == (ApplicationStatus.WITHDRAWN, [])


def test_an_expiry_closes_an_approved_application_and_blocks_a_late_reservation() -> None:
    approved, _ = application().quota_reserved(quota_id=uuid.uuid4(), at=AT)
    assert approved.quota_expired(at=AT).status is ApplicationStatus.EXPIRED
    expired_first = application().quota_expired(at=AT)
    assert expired_first.quota_reserved(quota_id=uuid.uuid4(), at=AT)[0].status is (
        ApplicationStatus.EXPIRED
    )


def test_withdraw_and_complete() -> None:
    app = application()
    withdrawn, events = app.withdraw(at=AT)
    assert withdrawn.status is ApplicationStatus.WITHDRAWN
    assert len(events) == 1
    with pytest.raises(InvalidTransition):
        withdrawn.withdraw(at=AT)
    with pytest.raises(InvalidTransition):
        app.complete(settlement=PETROPAVL, on=date(2026, 5, 1))
    approved, _ = app.quota_reserved(quota_id=uuid.uuid4(), at=AT)
    done, events = approved.complete(settlement=PETROPAVL, on=date(2026, 5, 1))
    assert done.status is ApplicationStatus.COMPLETED
    assert events[0].model_dump()["settlement"] == PETROPAVL
