"""A reservation under an Idempotency-Key holds nothing for its response, on the real
PostgreSQL: the reservation is idempotent by its application id already
(`effect_is_idempotent`), so its statement commits on its own and the quota row's lock is
not kept while the response is stored. The storing of the response is made to wait (a
trigger on `idempotency_keys` waits for an advisory lock the test holds); meanwhile another
reservation on the same quota goes through."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from quota.helpers import PAVLODAR, token
from support.services import ServiceSchema

from koshiqon.common.database import roles

pytestmark = pytest.mark.integration

ADMIN = token()
RESERVER = token("quota:reserve", region=PAVLODAR)
LOCK = 720_221  # the advisory lock the trigger waits for


async def test_a_keyed_reservation_holds_no_lock_while_its_response_is_stored(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    await establish(client)
    conn = await asyncpg.connect(
        roles.asyncpg_dsn(schema.dsn), server_settings={"search_path": schema.schema}
    )
    try:
        await conn.execute(
            "CREATE FUNCTION wait_for_the_test() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_xact_lock({LOCK}); RETURN NEW; END $$; "
            "CREATE TRIGGER wait_for_the_test BEFORE UPDATE ON idempotency_keys "
            "FOR EACH ROW EXECUTE FUNCTION wait_for_the_test()"
        )
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
        keyed_body = reservation(persons=3)
        keyed = asyncio.create_task(
            client.post(
                "/v1/reservations",
                json=keyed_body,
                headers=RESERVER | {"Idempotency-Key": "family-1"},
            )
        )
        await waiting_for_the_lock(conn)  # its response is being stored, and waits

        other = await asyncio.wait_for(
            client.post("/v1/reservations", json=reservation(persons=2), headers=RESERVER),
            timeout=10,
        )
        assert other.status_code == 200, other.text
        assert other.json()["outcome"] == "reserved"
        assert not keyed.done()
        used = await conn.fetchval("SELECT reserved FROM quotas")
        assert used == 5  # both reservations committed, the keyed one's response still waiting

        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK)
        first = await asyncio.wait_for(keyed, timeout=10)
        assert first.status_code == 200, first.text
        assert first.json()["outcome"] == "reserved"
        replay = await client.post(
            "/v1/reservations", json=keyed_body, headers=RESERVER | {"Idempotency-Key": "family-1"}
        )
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == first.json()
        marked = await schema.scalar(
            "SELECT effect_committed FROM idempotency_keys WHERE key = 'family-1'"
        )
        assert marked is not True  # a lost response is run again, not refused as carried out
    finally:
        await conn.close()


async def test_a_keyed_reservation_whose_response_was_lost_is_answered_again(
    client: httpx.AsyncClient, schema: ServiceSchema
) -> None:
    """Its claim left without a response past the lease (the process died after the
    commit): the retry runs the reservation again, which answers with the first outcome."""
    await establish(client)
    body = reservation(persons=4)
    headers = RESERVER | {"Idempotency-Key": "family-2"}
    first = await client.post("/v1/reservations", json=body, headers=headers)
    assert first.status_code == 200, first.text
    conn = await asyncpg.connect(
        roles.asyncpg_dsn(schema.dsn), server_settings={"search_path": schema.schema}
    )
    try:
        lost = await conn.execute(
            "UPDATE idempotency_keys SET status_code = NULL, response_body = NULL, "
            "response_headers = NULL, created_at = created_at - interval '1 hour' "
            "WHERE key = 'family-2'"
        )
    finally:
        await conn.close()
    assert lost == "UPDATE 1"
    retried = await client.post("/v1/reservations", json=body, headers=headers)
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json() == first.json()
    quota = (await client.get("/v1/quotas", headers=ADMIN)).json()["items"][0]
    assert quota["reserved"] == 4


async def establish(client: httpx.AsyncClient) -> None:
    territory = {"kato": PAVLODAR, "kind": "kandas", "effective_from": "2026-01-01"}
    made = await client.post("/v1/territories", json=territory | {"decision": "D7"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    quota = {"kind": "kandas", "region": PAVLODAR, "year_from": 2026, "limit": 10}
    made = await client.post("/v1/quotas", json=quota, headers=ADMIN)
    assert made.status_code == 201, made.text


def reservation(*, persons: int) -> dict[str, object]:
    return {
        "application_id": str(uuid.uuid4()),
        "kind": "kandas",
        "region": PAVLODAR,
        "year": 2026,
        "persons": persons,
    }


async def waiting_for_the_lock(conn: asyncpg.Connection) -> None:
    for _ in range(200):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND objid = $1",
            LOCK,
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the keyed reservation never came to store its response")
