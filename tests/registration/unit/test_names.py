"""The rule of names (issue 11 section 3): Latin names in the whole Latin script, diacritics
included; a Cyrillic spelling required of citizens only. The API's schema uses the same
patterns, checked here with pydantic's own regex engine too."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from koshiqon.common.errors import InvalidInput
from koshiqon.common.events.registration import LegalStatus
from koshiqon.common.kz import Sex
from koshiqon.registration.domain.model import Person, TravelDocument, check_identity
from koshiqon.registration.domain.names import check_names
from koshiqon.registration.entrypoints.schemas import CyrillicName, LatinName

ACCEPTED = [
    "Ay\u015fe",  # Turkish
    "Y\u0131lmaz",  # dotless i
    "Ay\u015fe Y\u0131lmaz",
    "\u0130stanbullu",  # capital I with dot above
    "\u00c4liya",  # the Kazakh Latin alphabet
    "N\u016brlan",
    "\u015ey\u00f1\u011fys",
    "\u00d6m\u00fcr \u00dcmit",
    "Nguy\u1ec5n V\u0103n",  # Vietnamese (Latin Extended Additional)
    "\u0141ukasz Wi\u015bniewski",  # Polish
    "Fran\u00e7ois-Xavier",
    "O'Brien",
    "D\u2019Artagnan",  # the typographic apostrophe
    "Ana Mar\u00eda de la Cruz",
    "A\u0308liya",  # a combining diaeresis after its letter
    "Abenov",
]
REFUSED = [
    "",
    "Ay\u015fe2",  # a digit
    "Ay\u015fe!",  # other punctuation
    "Ay\u015fe.",
    "Ay\u015fe_Y",
    "Ay\u015fe@",
    "\u0410y\u015fe",  # a Cyrillic capital A among Latin letters
    "Ay\u0448e",  # a Cyrillic sha
    "\u0391lpha",  # a Greek capital alpha
    "-Ay\u015fe",  # starts with a separator
    "'Ayse",
    " Ayse",
    "\u0308Aliya",  # starts with a combining mark
    "Ay\u015fe\n",
    "\u01c3Kung",  # a click letter that looks like "!"
    "\u00aaAna",  # the feminine ordinal indicator
    "A" * 201,
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_latin_names_in_the_whole_latin_script_are_accepted(name: str) -> None:
    check_names(
        LegalStatus.FOREIGNER,
        surname_latin=name,
        given_names_latin=name,
        surname_cyrillic=None,
        given_names_cyrillic=None,
    )
    assert TypeAdapter(LatinName).validate_python(name) == name


@pytest.mark.parametrize("name", REFUSED)
def test_other_latin_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_names(
            LegalStatus.FOREIGNER,
            surname_latin="Yilmaz",
            given_names_latin=name,
            surname_cyrillic=None,
            given_names_cyrillic=None,
        )
    assert refused.value.field == "given_names_latin"
    with pytest.raises(ValidationError):
        TypeAdapter(LatinName).validate_python(name)


@pytest.mark.parametrize("name", ["\u0410\u0439\u0448\u0435", "\u04d8\u043b\u0438\u044f"])
def test_cyrillic_names_stay_cyrillic(name: str) -> None:
    assert TypeAdapter(CyrillicName).validate_python(name) == name
    mixed = name + "a"  # a Latin letter at the end
    with pytest.raises(ValidationError):
        TypeAdapter(CyrillicName).validate_python(mixed)
    with pytest.raises(InvalidInput) as refused:
        check_names(
            LegalStatus.CITIZEN,
            surname_latin="Abenova",
            given_names_latin="Aliya",
            surname_cyrillic=mixed,
            given_names_cyrillic=name,
        )
    assert refused.value.field == "surname_cyrillic"


def person(status: LegalStatus, **changes: object) -> Person:
    foreign = status is not LegalStatus.CITIZEN
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "legal_status": status,
        "iin": None if foreign else "791028302728",
        "travel_document": TravelDocument("U1234567", "TUR") if foreign else None,
        "surname_latin": "Y\u0131lmaz",
        "given_names_latin": "Ay\u015fe",
        "surname_cyrillic": None,
        "given_names_cyrillic": None,
        "birth_date": date(1979, 10, 28),
        "sex": Sex.MALE,
        "citizenship": {"foreigner": "TUR", "citizen": "KAZ"}.get(status.value),
        "ethnicity": None,
        "kandas": None,
        "created_at": datetime(2026, 1, 10, tzinfo=UTC),
    }
    fields.update(changes)
    return Person(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [LegalStatus.FOREIGNER, LegalStatus.STATELESS])
def test_a_foreigner_or_stateless_person_needs_no_cyrillic_spelling(status: LegalStatus) -> None:
    check_identity(person(status))


def test_a_citizen_needs_a_cyrillic_spelling() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_identity(person(LegalStatus.CITIZEN))
    assert refused.value.field == "surname_cyrillic"
    with pytest.raises(InvalidInput) as refused:
        check_identity(
            person(LegalStatus.CITIZEN, surname_cyrillic="\u0419\u044b\u043b\u043c\u0430\u0437")
        )
    assert refused.value.field == "given_names_cyrillic"


def test_a_cyrillic_spelling_is_given_whole_or_not_at_all() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_identity(
            person(LegalStatus.FOREIGNER, given_names_cyrillic="\u0410\u0439\u0448\u0435")
        )
    assert refused.value.field == "surname_cyrillic"
