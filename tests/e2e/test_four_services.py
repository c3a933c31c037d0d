"""The sagas across all four services as real processes (e2e/stack.py: api and worker of
each, their own schemas and consumer groups), driven through their HTTP APIs only; the
services talk only through Kafka, and proposals asks the real monitoring service for its
evidence.

- Resettlement: an application reserves under the region's quota and is approved; the
  applicant registers permanently in the target region, the application completes, quota
  consumes the reservation and monitoring counts the application, the reservation and the
  consumption. A quota used up denies the next application; a withdrawal releases the
  family's persons.
- Proposals: an akimat's increase of its regional quota, approved by the migration body,
  grows the limit and ends applied; a cut below what is used ends application_failed with
  quota's reason.
- §8: registrations of departures that make a region's net outflow exceed its natural
  increase raise monitoring's alert, and proposals opens a draft measures proposal for the
  region's akimat.

Runs on the shared broker under the stack lock (`stack_lock`): another run's services on it
would answer this run's events."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from e2e.stack import Stack, bearer, running_stack, stack_lock
from support.kafka import wait_for

from koshiqon.common import kz
from koshiqon.common.kz import iin_check_digit

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TODAY = kz.kz_today(datetime.now(UTC))  # the processes run on the real clock
YEAR = TODAY.year
NORTH_KAZ, NORTH_KAZ_SETTLEMENT = "590000000", "591010000"
KOSTANAY, KOSTANAY_SETTLEMENT = "390000000", "391010000"
PAVLODAR = "550000000"
EAST_KAZ, EAST_KAZ_SETTLEMENT = "630000000", "631010000"

MINISTRY = bearer("quota:admin", "quota:read", "quota:reserve", subject="ministry")
CLERK = bearer("registration:read", "registration:write", subject="clerk")
ANALYST = bearer("monitoring:read", subject="analyst")
STATISTICS = bearer("monitoring:write", "monitoring:read", subject="statistics-office")
DECIDE = bearer("proposals:decide", "proposals:read", subject="ministry")
READ_PROPOSALS = bearer("proposals:read", subject="analyst")


def akimat(region: str) -> dict[str, str]:
    return bearer("proposals:file", "proposals:read", region=region, subject=f"akimat-{region}")


@pytest.fixture(scope="module")
async def stack(
    admin_database_url: str, bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    logs: Path = tmp_path_factory.mktemp("stack-logs")
    with stack_lock():
        async with running_stack(admin_database_url, bootstrap, logs) as running:
            yield running


# --- resettlement -------------------------------------------------------------------------


async def test_a_resettlement_reserves_completes_is_consumed_and_is_counted(stack: Stack) -> None:
    quota_id = await _quota(stack, "migrant", NORTH_KAZ, limit=10)
    applicant, member = await _person(stack), await _person(stack)
    application = await _apply(stack, applicant, NORTH_KAZ, members=[member])
    approved = await _application(stack, application, "approved")
    assert approved["quota_id"] == quota_id
    assert (await _quota_of(stack, quota_id))["reserved"] == 2

    for person in (applicant, member):
        await _register(stack, person, NORTH_KAZ_SETTLEMENT)
    completed = await _application(stack, application, "completed")
    assert completed["settlement"] == NORTH_KAZ_SETTLEMENT

    async def consumed() -> bool:
        body = await _quota_of(stack, quota_id)
        return (body["reserved"], body["consumed"]) == (0, 2)

    await wait_for(consumed, timeout=60)

    expected = {"applications": 1, "requested": 2, "approved": 2, "completed": 2,
                "limit": 10, "reserved": 0, "consumed": 2, "permanent": 2}  # fmt: skip
    await _counted(stack, NORTH_KAZ, quota_id, expected)


async def test_an_application_beyond_the_quota_is_denied(stack: Stack) -> None:
    quota_id = await _quota(stack, "migrant", KOSTANAY, limit=2)
    first = await _apply(stack, await _person(stack), KOSTANAY, members=[await _person(stack)])
    assert (await _application(stack, first, "approved"))["quota_id"] == quota_id

    second = await _apply(stack, await _person(stack), KOSTANAY)
    denied = await _application(stack, second, "rejected")
    assert denied["quota_id"] is None
    assert denied["rejection_reason"], denied
    body = await _quota_of(stack, quota_id)
    assert (body["limit"], body["reserved"]) == (2, 2)

    expected = {"applications": 2, "requested": 3, "approved": 2, "rejected": 1,
                "limit": 2, "reserved": 2}  # fmt: skip
    await _counted(stack, KOSTANAY, quota_id, expected)


async def test_a_withdrawal_releases_the_persons(stack: Stack) -> None:
    quota_id = await _quota(stack, "migrant", EAST_KAZ, limit=5)
    members = [await _person(stack), await _person(stack)]
    application = await _apply(stack, await _person(stack), EAST_KAZ, members=members)
    await _application(stack, application, "approved")
    assert (await _quota_of(stack, quota_id))["reserved"] == 3

    withdrawn = await stack["registration"].client.post(
        f"/v1/resettlement-applications/{application}/withdraw", headers=CLERK
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"

    async def released() -> bool:
        body = await _quota_of(stack, quota_id)
        return (body["reserved"], body["consumed"]) == (0, 0)

    await wait_for(released, timeout=60)
    expected = {"applications": 1, "approved": 3, "withdrawn": 3, "limit": 5, "reserved": 0}
    await _counted(stack, EAST_KAZ, quota_id, expected)
    # the persons are free again: the same family applies anew and is reserved
    again = await _apply(stack, (await _application_body(stack, application))["applicant_id"],
                         EAST_KAZ, members=members)  # fmt: skip
    await _application(stack, again, "approved")
    assert (await _quota_of(stack, quota_id))["reserved"] == 3


# --- proposals ------------------------------------------------------------------------------


async def test_an_approved_quota_increase_is_applied_and_a_cut_below_use_fails(
    stack: Stack,
) -> None:
    quota = stack["quota"].client
    quota_id = await _quota(stack, "kandas", PAVLODAR, limit=100)
    reservation = {"application_id": str(uuid.uuid4()), "kind": "kandas", "region": PAVLODAR,
                   "year": YEAR, "persons": 80}  # fmt: skip
    reserved = await quota.post("/v1/reservations", json=reservation, headers=MINISTRY)
    assert reserved.json()["outcome"] == "reserved", reserved.text

    increase = await _settled(stack, await _decided(stack, PAVLODAR, 50))
    assert increase["status"] == "applied", increase
    assert increase["evidence"]["status"] == "frozen"  # from the real monitoring service
    assert increase["evidence"]["indicators"]["kato"] == PAVLODAR
    assert (await _quota_of(stack, quota_id))["limit"] == 150

    cut = await _settled(stack, await _decided(stack, PAVLODAR, -100))
    assert cut["status"] == "application_failed", cut
    assert cut["failure"]["reason"] == "below_used"
    assert (await _quota_of(stack, quota_id))["limit"] == 150

    async def counted() -> bool:
        seen = await _projections(stack, PAVLODAR)
        stages = {(p["type"], p["stage"]): p["proposals"] for p in seen["proposals"]}
        quotas = [q for q in seen["quotas"] if q["quota_id"] == quota_id]
        return (
            stages.get(("regional_quota_change", "applied")) == 1
            and stages.get(("regional_quota_change", "application-failed")) == 1
            and len(quotas) == 1
            and quotas[0]["limit"] == 150
        )

    await wait_for(counted, timeout=60)


# --- §8 -------------------------------------------------------------------------------------


async def test_an_outflow_beyond_the_natural_increase_opens_a_measures_proposal(
    stack: Stack,
) -> None:
    """Last year's births and deaths give Karaganda region a natural increase of 2; three of
    its residents emigrate that year: net departures 3 > 2."""
    region, settlement = "350000000", "351010000"  # Karaganda
    year = YEAR - 1
    vital = {"source": "e2e", "rows": [{"kato": region, "period": str(year), "births": 12,
                                        "deaths": 10}]}  # fmt: skip
    loaded = await stack["monitoring"].client.post(
        "/v1/statistics/vital", json=vital, headers=STATISTICS
    )
    assert loaded.status_code == 200, loaded.text
    registration = stack["registration"].client
    for n in range(3):
        person = await _person(stack)
        await _register(stack, person, settlement, valid_from=date(year, 1, 10 + n))
        emigrated = await registration.post(
            f"/v1/persons/{person}/emigration",
            json={"destination_country": "RUS", "departed_on": f"{year}-06-{10 + n}"},
            headers=CLERK,
        )
        assert emigrated.status_code in (200, 201), emigrated.text

    alert: dict[str, Any] = {}

    async def raised() -> bool:
        nonlocal alert
        found = await stack["monitoring"].client.get(
            "/v1/alerts", params={"region": region, "active": "true"}, headers=ANALYST
        )
        items = [a for a in found.json()["items"] if a["period"] == "year"]
        alert = items[0] if items else {}
        return bool(items)

    await wait_for(raised, timeout=60)
    assert (alert["period_from"], alert["period_to"]) == (f"{year}-01-01", f"{year}-12-31")
    assert (alert["figures"]["net_departures"], alert["figures"]["natural_increase"]) == (3, 2)

    drafts: list[dict[str, Any]] = []

    async def opened() -> bool:
        nonlocal drafts
        listed = await stack["proposals"].client.get(
            "/v1/proposals", params={"region": region, "type": "measures"}, headers=akimat(region)
        )
        assert listed.status_code == 200, listed.text
        drafts = [p for p in listed.json()["items"] if p["type"] == "measures"]
        return bool(drafts)

    await wait_for(opened, timeout=60)
    [draft] = drafts
    assert (draft["region"], draft["status"]) == (region, "draft")
    assert draft["alert"]["alert_id"] == alert["alert_id"]


# --- helpers --------------------------------------------------------------------------------

_rng = random.Random()


def _iin(birth: date) -> str:
    century = {19: 3, 20: 5}[birth.year // 100]
    while True:
        first = f"{birth:%y%m%d}{century}{_rng.randrange(10_000):04d}"
        check = iin_check_digit(first)
        if check is not None:
            return f"{first}{check}"


async def _person(stack: Stack) -> str:
    """A citizen with a fresh IIN; their id. (The registry refuses a second person with an
    IIN: a rare repeat of the random serial is drawn again.)"""
    for _ in range(5):
        birth = date(1960 + _rng.randrange(40), 1 + _rng.randrange(12), 1 + _rng.randrange(28))
        body = {
            "legal_status": "citizen", "iin": _iin(birth), "surname_latin": "Seitkali",
            "given_names_latin": "Aidos", "surname_cyrillic": "Сейткали",
            "given_names_cyrillic": "Айдос", "birth_date": birth.isoformat(), "sex": "male",
            "citizenship": "KAZ",
        }  # fmt: skip
        created = await stack["registration"].client.post("/v1/persons", json=body, headers=CLERK)
        if created.status_code == 201:
            return str(created.json()["id"])
        assert created.status_code == 409, created.text
    raise AssertionError("no fresh IIN in five draws")


async def _register(
    stack: Stack, person: str, settlement: str, *, valid_from: date = TODAY
) -> None:
    address = {"kato": settlement, "street": "Abaya", "building": "1"}
    residence = {"kind": "permanent", "address": address, "valid_from": valid_from.isoformat()}
    created = await stack["registration"].client.post(
        f"/v1/persons/{person}/residences", json=residence, headers=CLERK
    )
    assert created.status_code == 201, created.text


async def _quota(stack: Stack, kind: str, region: str, *, limit: int) -> str:
    """The region designated for `kind` (the whole region) and its quota for this year."""
    quota = stack["quota"].client
    territory = {"kato": region, "kind": kind, "effective_from": f"{YEAR}-01-01",
                 "decision": "Decree 1"}  # fmt: skip
    designated = await quota.post("/v1/territories", json=territory, headers=MINISTRY)
    assert designated.status_code == 201, designated.text
    body = {"kind": kind, "region": region, "year_from": YEAR, "limit": limit}
    created = await quota.post("/v1/quotas", json=body, headers=MINISTRY)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _quota_of(stack: Stack, quota_id: str) -> dict[str, Any]:
    found = await stack["quota"].client.get(f"/v1/quotas/{quota_id}", headers=MINISTRY)
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def _apply(
    stack: Stack, applicant: str, region: str, *, members: tuple[str, ...] | list[str] = ()
) -> str:
    body = {"applicant_id": applicant, "category": "migrant", "family_member_ids": list(members),
            "target_region": region, "target_year": YEAR}  # fmt: skip
    created = await stack["registration"].client.post(
        "/v1/resettlement-applications", json=body, headers=CLERK
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _application_body(stack: Stack, application: str) -> dict[str, Any]:
    found = await stack["registration"].client.get(
        f"/v1/resettlement-applications/{application}", headers=CLERK
    )
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def _application(stack: Stack, application: str, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {}

    async def reached() -> bool:
        nonlocal body
        body = await _application_body(stack, application)
        return bool(body["status"] == status)

    try:
        await wait_for(reached, timeout=60)
    except TimeoutError:
        raise AssertionError(f"not {status}: {body}") from None
    return body


async def _projections(stack: Stack, region: str) -> dict[str, Any]:
    found = await stack["monitoring"].client.get(
        f"/v1/regions/{region}/projections", params={"period": str(YEAR)}, headers=ANALYST
    )
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def _counted(stack: Stack, region: str, quota_id: str, expected: dict[str, int]) -> None:
    """Wait until monitoring's projections of `region` this year show `expected`: its
    migrants' resettlement (applications; persons requested, approved, ...), the quota's
    limit, reserved and consumed, and permanent registrations begun."""
    seen: dict[str, int] = {}

    async def counted() -> bool:
        nonlocal seen
        found = await _projections(stack, region)
        [row] = [r for r in found["resettlement"] if r["category"] == "migrant"] or [{}]
        [quota] = [q for q in found["quotas"] if q["quota_id"] == quota_id] or [{}]
        permanent = sum(r["started"] for r in found["registrations"] if r["kind"] == "permanent")
        every = {**row, **quota, "permanent": permanent}
        seen = {key: every.get(key, 0) for key in expected}
        return seen == expected

    try:
        await wait_for(counted, timeout=60)
    except TimeoutError:
        raise AssertionError(f"monitoring counts {seen}, not {expected}") from None


async def _decided(stack: Stack, region: str, delta: int) -> str:
    proposals = stack["proposals"].client
    body = {"type": "regional_quota_change", "region": region,
            "justification": "More vacancies in agriculture than job seekers",
            "documents": [{"number": "12-3/45", "date": f"{YEAR}-02-10",
                           "title": "Labour market survey"}],
            "payload": {"kind": "kandas", "delta": delta, "horizon": {"year": YEAR}}}  # fmt: skip
    created = await proposals.post("/v1/proposals", json=body, headers=akimat(region))
    assert created.status_code == 201, created.text
    pid: str = created.json()["id"]
    for action, headers in (("submit", akimat(region)), ("review", DECIDE), ("approve", DECIDE)):
        response = await proposals.post(f"/v1/proposals/{pid}/{action}", headers=headers)
        assert response.status_code == 200, response.text
    return pid


async def _settled(stack: Stack, pid: str) -> dict[str, Any]:
    body: dict[str, Any] = {}

    async def answered() -> bool:
        nonlocal body
        found = await stack["proposals"].client.get(f"/v1/proposals/{pid}", headers=DECIDE)
        body = found.json()
        return body["status"] in ("applied", "application_failed")

    await wait_for(answered, timeout=60)
    return body
