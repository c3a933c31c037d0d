"""The API on the real PostgreSQL: flows, refusals as problem+json, nothing partly written,
uniqueness under concurrency, the audit of reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def field_of(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["errors"][0]["field"])


async def test_register_and_read_a_person(service: Any) -> None:
    body = service.citizen_body()
    created = await service.client.post("/v1/persons", json=body, headers=service.auth())
    assert created.status_code == 201, created.text
    person_id = created.json()["id"]
    assert created.headers["location"] == f"/v1/persons/{person_id}"
    got = await service.client.get(f"/v1/persons/{person_id}", headers=service.auth())
    assert got.json()["iin"] == body["iin"]
    found = await service.client.get(
        "/v1/persons", params={"iin": body["iin"]}, headers=service.auth()
    )
    assert [p["id"] for p in found.json()["items"]] == [person_id]
    assert await service.outbox_types(person_id) == ["person-registered"]


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"iin": "791028302729"}, 422, "iin"),  # checksum
        ({"iin": "791328302728"}, 422, "iin"),  # date
        ({"iin": "791028902728"}, 422, "iin"),  # century digit
        ({"iin": "12345"}, 422, "iin"),  # syntax
        ({"birth_date": "1979-10-29", "iin": "791028302728"}, 422, "birth_date"),
        ({"citizenship": "RUS"}, 422, "citizenship"),
        ({"iin": None}, 422, "iin"),
    ],
)
async def test_bad_persons_are_refused_and_nothing_is_written(
    service: Any, changes: dict[str, Any], status: int, field: str
) -> None:
    before = await service.count("persons")
    outbox = await service.count("outbox")
    response = await service.client.post(
        "/v1/persons", json=service.citizen_body(**changes), headers=service.auth()
    )
    assert response.status_code == status, response.text
    assert field_of(response) == field
    assert (await service.count("persons"), await service.count("outbox")) == (before, outbox)


async def test_text_holding_nul_is_refused_naming_the_field(service: Any) -> None:
    """PostgreSQL's text cannot store U+0000, nor take it as a query's parameter: unchecked,
    an address's street failed at the INSERT, a document number at the SELECT (500s)."""
    person = await service.person()
    before = await service.count("residences")
    response = await service.residence(
        person, address={"kato": "591010000", "street": "Abaya\x00", "building": "1"}
    )
    assert response.status_code == 422, response.text
    assert field_of(response) == "address.street"
    assert await service.count("residences") == before
    found = await service.client.get(
        "/v1/persons", params={"document_number": "N\x001", "document_country": "RUS"},
        headers=service.auth(),
    )  # fmt: skip
    assert found.status_code == 422, found.text
    assert field_of(found) == "query.document_number"


async def test_a_second_person_with_the_same_iin_is_409_even_concurrently(service: Any) -> None:
    body = service.citizen_body()
    responses = await asyncio.gather(
        *[service.client.post("/v1/persons", json=body, headers=service.auth()) for _ in range(6)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409, 409]
    assert {field_of(r) for r in responses if r.status_code == 409} == {"iin"}
    assert await service.count("persons", iin=body["iin"]) == 1


async def test_a_foreigner_by_travel_document(service: Any) -> None:
    body = service.citizen_body(
        legal_status="foreigner",
        iin=None,
        citizenship="CHN",
        travel_document={"number": "E7654321", "country": "CHN"},
    )
    created = await service.client.post("/v1/persons", json=body, headers=service.auth())
    assert created.status_code == 201, created.text
    again = await service.client.post("/v1/persons", json=body, headers=service.auth())
    assert (again.status_code, field_of(again)) == (409, "travel_document")
    found = await service.client.get(
        "/v1/persons",
        params={"document_number": "E7654321", "document_country": "CHN"},
        headers=service.auth(),
    )
    assert [p["id"] for p in found.json()["items"]] == [created.json()["id"]]


async def test_a_move_between_regions(service: Any) -> None:
    person = await service.person()
    first = await service.residence(person, valid_from="2020-01-01")
    assert first.status_code == 201, first.text
    moved = await service.residence(
        person,
        valid_from="2025-06-01",
        address={"kato": "391010000", "street": "Baitursynov", "building": "5", "apartment": "12"},
    )
    assert moved.status_code == 201, moved.text
    listed = (
        await service.client.get(f"/v1/persons/{person}/residences", headers=service.auth())
    ).json()["items"]
    assert [(r["region"], r["status"], r["ended_on"]) for r in listed] == [
        ("590000000", "ended", "2025-05-31"),
        ("390000000", "active", None),
    ]
    assert await service.outbox_types(person) == [
        "person-registered",
        "residence-registered",
        "residence-ended",
        "residence-registered",
        "person-moved",
    ]


async def test_one_active_permanent_registration_under_concurrency(service: Any) -> None:
    person = await service.person()
    responses = await asyncio.gather(
        *[service.residence(person, valid_from=f"2021-0{m}-01") for m in range(1, 7)]
    )
    assert all(r.status_code in (201, 422) for r in responses), [r.text for r in responses]
    active = await service.count("residences", person_id=_uuid(person), status="active")
    assert active == 1


def _uuid(text: str) -> Any:
    import uuid

    return uuid.UUID(text)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "temporary", "purpose": "work"}, "valid_until"),
        ({"kind": "permanent", "valid_until": "2026-01-01"}, "valid_until"),
        ({"kind": "temporary", "purpose": "work", "valid_until": "2019-01-01"}, "valid_until"),
        ({"address": {"kato": "991010000", "street": "x", "building": "1"}}, "address.kato"),
        ({"address": {"kato": "59101", "street": "x", "building": "1"}}, "address.kato"),
    ],
)
async def test_bad_residences_are_refused(service: Any, body: dict[str, Any], field: str) -> None:
    person = await service.person()
    response = await service.residence(person, **body)
    assert response.status_code == 422, response.text
    assert field_of(response) == field
    assert await service.count("residences", person_id=_uuid(person)) == 0


async def test_overlapping_temporary_stays_are_409(service: Any) -> None:
    person = await service.person()
    stay = {
        "kind": "temporary",
        "purpose": "work",
        "valid_from": "2025-01-01",
        "valid_until": "2025-06-30",
    }
    assert (await service.residence(person, **stay)).status_code == 201
    again = await service.residence(person, **{**stay, "valid_from": "2025-03-01"})
    assert (again.status_code, field_of(again)) == (409, "valid_from")


async def test_immigration_then_emigration(service: Any) -> None:
    person = await service.person()
    arrived = await service.residence(person, arrived_from="TUR", valid_from="2024-02-01")
    assert arrived.status_code == 201, arrived.text
    stay = await service.residence(
        person,
        kind="temporary",
        purpose="study",
        valid_from="2024-09-01",
        valid_until="2027-06-30",
        address={"kato": "751110000", "street": "Satpayev", "building": "22"},
    )
    assert stay.status_code == 201
    left = await service.client.post(
        f"/v1/persons/{person}/emigration",
        json={"destination_country": "DEU", "departed_on": "2026-01-15"},
        headers=service.auth(),
    )
    assert left.status_code == 200, left.text
    assert {r["end_reason"] for r in left.json()["ended"]} == {"emigrated"}
    assert await service.count("residences", person_id=_uuid(person), status="active") == 0
    types = await service.outbox_types(person)
    assert types[1:3] == ["residence-registered", "person-immigrated"]
    assert types[-1] == "person-emigrated"
    again = await service.client.post(
        f"/v1/persons/{person}/emigration",
        json={"destination_country": "DEU", "departed_on": "2026-01-16"},
        headers=service.auth(),
    )
    assert again.status_code == 409


async def test_end_a_residence(service: Any) -> None:
    person = await service.person()
    residence = (await service.residence(person)).json()["id"]
    url = f"/v1/persons/{person}/residences/{residence}/end"
    early = await service.client.post(url, json={"ended_on": "2019-01-01"}, headers=service.auth())
    assert (early.status_code, field_of(early)) == (422, "ended_on")
    ended = await service.client.post(url, json={"ended_on": "2024-01-01"}, headers=service.auth())
    assert ended.json()["end_reason"] == "deregistered"
    twice = await service.client.post(url, json={"ended_on": "2024-01-01"}, headers=service.auth())
    assert twice.status_code == 409


async def test_every_read_is_audited(service: Any) -> None:
    person = await service.person()
    reader = service.auth("registration:read", subject="analyst-7")
    await service.client.get(f"/v1/persons/{person}", headers=reader)
    await service.client.get(f"/v1/persons/{person}/residences", headers=reader)
    audit = await service.client.get(
        "/v1/audit", params={"person_id": person}, headers=service.auth("registration:audit")
    )
    assert audit.status_code == 200, audit.text
    entries = audit.json()["items"]
    assert [(e["subject"], e["route"]) for e in entries] == [
        ("analyst-7", "GET /v1/persons/{person_id}"),
        ("analyst-7", "GET /v1/persons/{person_id}/residences"),
    ]
    assert all(e["agency"] == "test-agency" for e in entries)


async def test_the_expiry_check_ends_past_stays_with_an_event(service: Any) -> None:
    from datetime import UTC, datetime

    from koshiqon.registration.entrypoints.scheduler import ExpiryScheduler

    person = await service.person()
    stay = await service.residence(
        person, kind="temporary", purpose="work", valid_from="2024-01-01", valid_until="2024-12-31"
    )
    assert stay.status_code == 201
    scheduler = ExpiryScheduler(
        service.app.state.bus,
        batch_size=2,
        now=lambda: datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert await scheduler.run_once() >= 1
    listed = (
        await service.client.get(f"/v1/persons/{person}/residences", headers=service.auth())
    ).json()["items"]
    assert [(r["status"], r["ended_on"], r["end_reason"]) for r in listed] == [
        ("ended", "2024-12-31", "expired")
    ]
    assert (await service.outbox_types(person))[-1] == "residence-ended"


async def test_idempotency_key_replays_the_first_response(service: Any) -> None:
    body = service.citizen_body()
    headers = {**service.auth(), "Idempotency-Key": "k-" + body["iin"]}
    first = await service.client.post("/v1/persons", json=body, headers=headers)
    second = await service.client.post("/v1/persons", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    marked = await service.schema.scalar(
        "SELECT effect_committed FROM idempotency_keys WHERE key = :key",
        key=headers["Idempotency-Key"],
    )
    assert marked is True  # the unit of work marked the claim in the effect's transaction


async def test_a_turkish_foreigner_without_a_cyrillic_spelling_is_registered(
    service: Any,
) -> None:
    """Issue 11 section 3: Ayşe Yilmaz (with a dotless i), a citizen of Turkey, whose
    passport carries no Cyrillic spelling."""
    body = {
        "legal_status": "foreigner",
        "travel_document": {"number": "U12345678", "country": "TUR"},
        "surname_latin": "Y\u0131lmaz",
        "given_names_latin": "Ay\u015fe",
        "birth_date": "1991-04-23",
        "sex": "female",
        "citizenship": "TUR",
    }
    created = await service.client.post("/v1/persons", json=body, headers=service.auth())
    assert created.status_code == 201, created.text
    person = created.json()
    assert (person["surname_latin"], person["given_names_latin"]) == ("Y\u0131lmaz", "Ay\u015fe")
    assert (person["surname_cyrillic"], person["given_names_cyrillic"]) == (None, None)
    got = await service.client.get(f"/v1/persons/{person['id']}", headers=service.auth())
    assert got.json() == person


@pytest.mark.parametrize("missing", ["surname_cyrillic", "given_names_cyrillic"])
async def test_a_citizen_without_a_cyrillic_spelling_is_refused(service: Any, missing: str) -> None:
    before = await service.count("persons")
    body = service.citizen_body()
    del body[missing]
    response = await service.client.post("/v1/persons", json=body, headers=service.auth())
    assert response.status_code == 422, response.text
    assert field_of(response) == missing
    assert await service.count("persons") == before


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("\u015ey\u00f1\u011fys", 201),  # the Kazakh Latin alphabet
        ("D\u2019Arcy-O'Neil", 201),
        ("Aid0s", 422),
        ("Ai\u0434os", 422),  # a Cyrillic letter among Latin ones
    ],
)
async def test_latin_names_in_the_api(service: Any, name: str, status: int) -> None:
    response = await service.client.post(
        "/v1/persons", json=service.citizen_body(given_names_latin=name), headers=service.auth()
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert field_of(response) == "given_names_latin"
