"""The app factory end to end: a tiny service built with `create_app`, its table made by a
real Alembic migration in a throwaway schema, driven over ASGI with dev-key tokens, with the
real PostgreSQL and Kafka behind its readiness checks."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import REGISTRY
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from support.selftest import Workspace, workspace

from koshiqon.common.auth import Principal, require_scopes
from koshiqon.common.errors import Conflict, NotFound
from koshiqon.common.health import ReadinessCheck, database_check, kafka_check, migrations_check
from koshiqon.common.http.app import create_app
from koshiqon.common.http.correlation import current_correlation_id, current_traceparent
from koshiqon.common.http.idempotency import (
    commit_effect,
    purge_expired_keys,
    record_effect,
    settle_held,
)
from koshiqon.common.http.pagination import Page, PageQuery, decode_cursor, make_page
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import ServiceSettings
from koshiqon.devtools.devkey import issue_dev_token

pytestmark = pytest.mark.integration

# --- the tiny service ----------------------------------------------------------------------

ENV_PY = """\
from sqlalchemy import MetaData

from koshiqon.common.migrations import run_env

run_env(MetaData(), schema="httptest")
"""

PERSONS_REVISION = '''\
"""persons (the platform tables come with the workspace)"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    # checked at COMMIT: a unit of work that breaks it fails only when it commits
    op.execute(
        "CREATE TABLE ledger_lines (reference text NOT NULL, CONSTRAINT"
        " uq_ledger_lines_reference UNIQUE (reference) DEFERRABLE INITIALLY DEFERRED)"
    )
'''

MAX_BODY = 4096

Writer = Annotated[Principal, Depends(require_scopes("test:write"))]
Reader = Annotated[Principal, Depends(require_scopes("test:read"))]


class MemberIn(BaseModel):
    iin: str = Field(pattern=r"^\d{12}$")


class PersonIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    family: list[MemberIn] = []


class PersonOut(BaseModel):
    id: int
    name: str


@dataclass
class Lab:
    """What the lab routes let a test observe and steer."""

    calls: dict[str, int] = field(default_factory=dict)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, route: str) -> int:
        self.calls[route] = self.calls.get(route, 0) + 1
        return self.calls[route]

    def first_call_fails(self, route: str, why: str) -> dict[str, int]:
        """Counts a call of `route`; the first one raises `why`."""
        call = self.count(route)
        if call == 1:
            raise RuntimeError(why)
        return {"call": call}


def persons_router() -> APIRouter:
    router = APIRouter(prefix="/persons")

    @router.post("", status_code=201, response_model=PersonOut)
    async def add_person(
        body: PersonIn, principal: Writer, request: Request, response: Response
    ) -> PersonOut:
        async with request.app.state.sessions() as session, session.begin():
            sql = text("INSERT INTO persons (name) VALUES (:name) RETURNING id")
            person_id = (await session.execute(sql, {"name": body.name})).scalar_one()
        response.headers["Location"] = f"/persons/{person_id}"
        return PersonOut(id=person_id, name=body.name)

    @router.get("", response_model=Page[PersonOut])
    async def list_persons(params: PageQuery, principal: Reader, request: Request) -> Any:
        after = int(params.after[0]) if params.after else 0
        sql = text("SELECT id, name FROM persons WHERE id > :after ORDER BY id LIMIT :n")
        async with request.app.state.sessions() as session:
            rows = await session.execute(sql, {"after": after, "n": params.limit + 1})
        people = [PersonOut(id=r.id, name=r.name) for r in rows]
        return make_page(people, limit=params.limit, cursor_of=lambda p: (p.id,))

    @router.get("/{person_id}", response_model=PersonOut)
    async def get_person(person_id: int, principal: Reader) -> PersonOut:
        raise NotFound(f"no person {person_id}")

    return router


async def lab_unit(request: Request, *statements: str, name: str) -> None:
    """`statements` in a unit of work as a service's runs one: `settle_held` before it
    begins, `commit_effect` to commit (held in a keyed request), closed unless held."""
    await settle_held()
    session = request.app.state.sessions()
    held = False
    try:
        await session.begin()
        for sql in statements:
            await session.execute(text(sql), {"name": name})
        held = await commit_effect(session, session)
    finally:
        if not held:
            await session.close()


def lab_router(lab: Lab) -> APIRouter:
    router = APIRouter(prefix="/lab")

    @router.post("/conflict", status_code=201)
    async def conflict(body: PersonIn, principal: Writer) -> dict[str, int]:
        raise Conflict(f"refused, call {lab.count('conflict')}")

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2 at /srv/app.py")

    @router.post("/flaky", status_code=201)
    async def flaky(body: PersonIn, principal: Writer) -> dict[str, int]:
        return lab.first_call_fails("flaky", "the first call fails")

    @router.post("/effect", status_code=201)
    async def effect(body: PersonIn, principal: Writer, request: Request) -> dict[str, int]:
        """Commits an effect as a unit of work does (with `record_effect`); the first call
        then fails before its response, as a process that dies there would lose it."""
        async with request.app.state.sessions() as session, session.begin():
            sql = text("INSERT INTO persons (name) VALUES (:name)")
            await session.execute(sql, {"name": body.name})
            await record_effect(session)
        return lab.first_call_fails("effect", "the response is lost after the commit")

    @router.post("/held", status_code=201)
    async def held(body: PersonIn, principal: Writer, request: Request) -> dict[str, int]:
        """A unit of work; the first call then fails, after its commit."""
        await lab_unit(request, "INSERT INTO persons (name) VALUES (:name)", name=body.name)
        return lab.first_call_fails("held", "the request fails after its unit of work")

    @router.post("/uncommittable", status_code=201)
    async def uncommittable(body: PersonIn, principal: Writer, request: Request) -> dict[str, int]:
        """A unit of work whose COMMIT fails (a deferred unique constraint)."""
        line = "INSERT INTO ledger_lines (reference) VALUES (:name)"
        person = "INSERT INTO persons (name) VALUES (:name)"
        await lab_unit(request, person, line, line, name=body.name)
        return {"call": lab.count("uncommittable")}

    @router.post("/held-slow", status_code=201)
    async def held_slow(body: PersonIn, principal: Writer, request: Request) -> dict[str, int]:
        """A unit of work, then a wait for the test, then the response."""
        await lab_unit(request, "INSERT INTO persons (name) VALUES (:name)", name=body.name)
        lab.entered.set()
        await lab.release.wait()
        return {"call": lab.count("held-slow")}

    @router.post("/two-units", status_code=201)
    async def two_units(body: PersonIn, principal: Writer, request: Request) -> dict[str, int]:
        """Two units of work in one request, locking the same row."""
        rename = "UPDATE persons SET name = :name WHERE id = 1"
        await lab_unit(request, rename, name=body.name)
        await lab_unit(request, rename, name=body.name + " again")
        return {"call": lab.count("two-units")}

    @router.post("/slow", status_code=201)
    async def slow(body: PersonIn, principal: Writer) -> dict[str, int]:
        lab.entered.set()
        await lab.release.wait()
        return {"call": lab.count("slow")}

    @router.get("/context")
    async def context() -> dict[str, str]:
        return {"correlation_id": current_correlation_id(), "traceparent": current_traceparent()}

    return router


def build_app(ws: Workspace, lab: Lab, readiness: Sequence[ReadinessCheck]) -> FastAPI:
    @asynccontextmanager
    async def state(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[None]:
        lab.calls["lifespan"] = 1
        yield
        lab.calls["lifespan"] = 2

    settings = ServiceSettings(
        service_name="httptest",
        environment="test",
        http_max_body_bytes=MAX_BODY,
        database_url=ws.dsn,  # type: ignore[arg-type]
        database_schema=ws.schema,
    )
    return create_app(
        settings,
        title="HTTP test",
        version="0.0.1",
        routers=[persons_router(), lab_router(lab)],
        state=state,
        readiness=readiness,
    )


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("migrations")
    (root / "versions").mkdir()
    (root / "env.py").write_text(ENV_PY)
    (root / "versions" / "0001.py").write_text(PERSONS_REVISION)
    return root


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh development signing key per test, not the checkout's."""
    monkeypatch.setenv("KOSHIQON_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
async def ws(admin_database_url: str, scripts: Path) -> AsyncIterator[Workspace]:
    async with workspace(admin_database_url) as w:
        await upgrade(scripts, w.dsn, schema=w.schema)
        yield w


@pytest.fixture
def lab() -> Lab:
    return Lab()


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def client(
    state_dir: Path, ws: Workspace, lab: Lab, scripts: Path, bootstrap: str
) -> AsyncIterator[httpx.AsyncClient]:
    readiness = [
        database_check(ws.engine),
        kafka_check(bootstrap),
        migrations_check(ws.engine, scripts, ws.schema),
    ]
    async with serving(build_app(ws, lab, readiness)) as c:
        yield c


def auth(
    subject: str = "agency-a",
    *,
    key: str | None = None,
    scopes: Sequence[str] = ("test:read", "test:write"),
) -> dict[str, str]:
    token = issue_dev_token(scopes=list(scopes), subject=subject)
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


PERSON = {"name": "Aigerim", "family": [{"iin": "900101300123"}]}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# --- errors as problem+json ----------------------------------------------------------------


async def test_validation_error_names_field_paths(client: httpx.AsyncClient) -> None:
    body = {"name": "", "family": [{"iin": "900101300123"}, {"iin": "12x"}]}
    response = await client.post("/persons", json=body, headers=auth())
    errors = problem(response, 422)["errors"]
    assert {e["field"] for e in errors} == {"name", "family[1].iin"}


async def test_domain_errors_map_to_404_and_409(client: httpx.AsyncClient) -> None:
    missing = problem(await client.get("/persons/999", headers=auth()), 404)
    assert missing["detail"] == "no person 999"
    assert missing["instance"] == "/persons/999"
    refused = await client.post("/lab/conflict", json=PERSON, headers=auth())
    assert problem(refused, 409)["title"] == "Conflict"


async def test_unexpected_error_is_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/lab/boom", headers={"X-Correlation-ID": "boom-1"})
    body = problem(response, 500)
    for secret in ("hunter2", "secret internals", "RuntimeError", "Traceback", "app.py"):
        assert secret not in response.text
    assert body["title"] == "Internal error"
    assert response.headers["X-Correlation-ID"] == "boom-1"


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/persons", json=PERSON, headers={"Idempotency-Key": "k1"})
    problem(response, 401)


# --- correlation and trace context ---------------------------------------------------------


async def test_correlation_id_is_echoed_and_seen_by_the_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/lab/context", headers={"X-Correlation-ID": "req:42.a_b-c"})
    assert response.headers["X-Correlation-ID"] == "req:42.a_b-c"
    assert response.json()["correlation_id"] == "req:42.a_b-c"


@pytest.mark.parametrize("sent", [None, "has space", "x" * 129, "semi;colon", ""])
async def test_missing_or_malformed_correlation_id_is_replaced(
    client: httpx.AsyncClient, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Correlation-ID": sent}
    response = await client.get("/lab/context", headers=headers)
    generated = response.headers["X-Correlation-ID"]
    assert UUID4.match(generated)
    assert response.json()["correlation_id"] == generated


async def test_traceparent_continues_the_callers_trace(client: httpx.AsyncClient) -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await client.get("/lab/context", headers={"traceparent": incoming})
    version, trace_id, parent_id, flags = response.json()["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert re.fullmatch(r"[0-9a-f]{16}", parent_id)
    assert parent_id != "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "sent",
    [
        None,
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ],
)
async def test_missing_or_invalid_traceparent_starts_a_trace(
    client: httpx.AsyncClient, sent: str | None
) -> None:
    headers = {} if sent is None else {"traceparent": sent}
    traceparent = (await client.get("/lab/context", headers=headers)).json()["traceparent"]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", traceparent)
    assert "4bf92f3577b34da6a3ce929d0e0e4736" not in traceparent


# --- request body limit --------------------------------------------------------------------


def person_of_size(size: int) -> bytes:
    """A valid person whose JSON is exactly `size` bytes."""
    empty = len(b'{"name":""}')
    return b'{"name":"' + b"a" * (size - empty) + b'"}'


async def chunked(body: bytes, *, chunk: int = 1000) -> AsyncIterator[bytes]:
    """A body sent without a Content-Length, in pieces."""
    for start in range(0, len(body), chunk):
        yield body[start : start + chunk]


async def test_a_declared_length_over_the_limit_is_413_and_nothing_is_written(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    headers = {**auth(), "X-Correlation-ID": "big-1", "Content-Type": "application/json"}
    response = await client.post("/persons", content=person_of_size(MAX_BODY + 1), headers=headers)

    body = problem(response, 413)
    assert body["detail"] == f"the request body is larger than {MAX_BODY} bytes"
    assert response.headers["X-Correlation-ID"] == "big-1"
    assert response.headers["Connection"] == "close"
    assert await ws.scalar("SELECT count(*) FROM persons") == 0


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    headers = {**auth(), "Content-Type": "application/json"}
    response = await client.post(
        "/persons", content=chunked(person_of_size(MAX_BODY + 1)), headers=headers
    )

    assert problem(response, 413)["type"].endswith("/http-413")
    assert response.headers["Connection"] == "close"  # the rest is not read
    assert await ws.scalar("SELECT count(*) FROM persons") == 0


async def test_a_keyed_chunked_body_over_the_limit_is_413_and_claims_no_key(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    """The idempotency layer buffers a keyed body before the routes: the limit holds there
    too, and the refused request leaves the key free for a proper one."""
    headers = {**auth(key=new_key()), "Content-Type": "application/json"}
    refused = await client.post(
        "/persons", content=chunked(person_of_size(MAX_BODY + 1)), headers=headers
    )
    accepted = await client.post(
        "/persons", json=PERSON, headers=auth(key=headers["Idempotency-Key"])
    )

    problem(refused, 413)
    assert accepted.status_code == 201, accepted.text
    assert "Idempotent-Replayed" not in accepted.headers
    assert await ws.scalar("SELECT count(*) FROM persons") == 1


@pytest.mark.parametrize("chunks", [False, True], ids=["declared", "chunked"])
async def test_a_body_of_exactly_the_limit_is_served(
    client: httpx.AsyncClient, chunks: bool
) -> None:
    body = person_of_size(MAX_BODY)
    content = chunked(body) if chunks else body
    headers = {**auth(), "Content-Type": "application/json"}
    response = await client.post("/persons", content=content, headers=headers)

    assert response.status_code == 422  # name is longer than 100: validated, not refused
    assert {e["field"] for e in response.json()["errors"]} == {"name"}


# --- Idempotency-Key -----------------------------------------------------------------------


async def test_repeat_gets_the_first_response(client: httpx.AsyncClient, ws: Workspace) -> None:
    headers = auth(key=new_key())
    first = await client.post("/persons", json=PERSON, headers=headers)
    again = await client.post("/persons", json=PERSON, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert (
        again.headers["Location"] == first.headers["Location"] == f"/persons/{first.json()['id']}"
    )
    assert again.headers["content-type"] == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await ws.scalar("SELECT count(*) FROM persons") == 1


async def test_same_key_with_another_body_or_route_is_422(client: httpx.AsyncClient) -> None:
    key = new_key()
    assert (await client.post("/persons", json=PERSON, headers=auth(key=key))).status_code == 201
    other_body = await client.post("/persons", json={"name": "Other"}, headers=auth(key=key))
    other_route = await client.post("/lab/flaky", json=PERSON, headers=auth(key=key))
    for response in (other_body, other_route):
        assert problem(response, 422)["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\there"])
async def test_malformed_key_is_422(client: httpx.AsyncClient, ws: Workspace, key: str) -> None:
    response = await client.post("/persons", json=PERSON, headers=auth(key=key))
    assert problem(response, 422)["errors"][0]["field"] == "Idempotency-Key"
    assert await ws.scalar("SELECT count(*) FROM persons") == 0


async def test_concurrent_duplicate_is_409(client: httpx.AsyncClient, lab: Lab) -> None:
    headers = auth(key=new_key())

    async def first() -> httpx.Response:
        return await client.post("/lab/slow", json=PERSON, headers=headers)

    async def duplicate_while_first_runs() -> httpx.Response:
        try:
            await asyncio.wait_for(lab.entered.wait(), timeout=10)
            return await client.post("/lab/slow", json=PERSON, headers=headers)
        finally:
            lab.release.set()

    original, duplicate = await asyncio.gather(first(), duplicate_while_first_runs())

    assert original.status_code == 201
    assert problem(duplicate, 409)["type"].endswith("idempotency-key-in-use")
    assert duplicate.headers["Retry-After"] == "1"
    replay = await client.post("/lab/slow", json=PERSON, headers=headers)
    assert replay.json() == original.json() == {"call": 1}


async def test_keys_are_scoped_to_the_caller(client: httpx.AsyncClient, ws: Workspace) -> None:
    key = new_key()
    mine = await client.post("/persons", json=PERSON, headers=auth("agency-a", key=key))
    theirs = await client.post("/persons", json=PERSON, headers=auth("agency-b", key=key))

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers
    assert await ws.scalar("SELECT count(*) FROM persons") == 2


async def test_a_replay_needs_the_authority_of_the_first_request(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    """The same subject under the same key, with a token that may not write: the route
    refuses it (403) instead of the stored 201 being replayed past its authorization."""
    key = new_key()
    first = await client.post("/persons", json=PERSON, headers=auth(key=key))
    weaker = await client.post("/persons", json=PERSON,
                               headers=auth(key=key, scopes=["test:read"]))  # fmt: skip
    again = await client.post("/persons", json=PERSON, headers=auth(key=key))

    assert first.status_code == 201
    problem(weaker, 403)
    assert "Idempotent-Replayed" not in weaker.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await ws.scalar("SELECT count(*) FROM persons") == 1


async def test_a_keyed_request_cut_off_mid_body_claims_nothing_and_runs_nothing(
    state_dir: Path, ws: Workspace, lab: Lab
) -> None:
    """The client goes away after part of its body: the route never sees the part as a
    whole body (a 422 stored under the key would refuse the full retry as another
    request's), and the retry runs."""
    key = new_key()
    body = orjson.dumps(PERSON)
    headers = [(k.lower().encode(), v.encode()) for k, v in auth(key=key).items()]
    headers += [(b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode())]  # fmt: skip
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/persons", "raw_path": b"/persons", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    messages = iter([{"type": "http.request", "body": body[:7], "more_body": True},
                     {"type": "http.disconnect"}])  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app = build_app(ws, lab, [])
    async with serving(app) as client:
        await app(scope, receive, send)
        kept = await ws.scalar(f"SELECT count(*) FROM idempotency_keys WHERE key = '{key}'")
        retried = await client.post("/persons", json=PERSON, headers=auth(key=key))

    assert not [m for m in sent if m["type"] == "http.response.start" and m["status"] < 500]
    assert kept == 0
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert await ws.scalar("SELECT count(*) FROM persons") == 1


async def test_5xx_is_not_stored_so_a_retry_runs_again(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    headers = auth(key=new_key())
    failed = await client.post("/lab/flaky", json=PERSON, headers=headers)
    retried = await client.post("/lab/flaky", json=PERSON, headers=headers)
    replayed = await client.post("/lab/flaky", json=PERSON, headers=headers)

    problem(failed, 500)
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == replayed.json() == {"call": 2}
    assert lab.calls["flaky"] == 2


async def test_an_effect_whose_response_was_lost_is_not_carried_out_twice(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    headers = auth(key=new_key())
    lost = await client.post("/lab/effect", json=PERSON, headers=headers)
    retried = await client.post("/lab/effect", json=PERSON, headers=headers)
    async with ws.engine.begin() as conn:  # past the in-flight lease: still not run again
        await conn.exec_driver_sql(
            "UPDATE idempotency_keys SET created_at = now() - interval '10 minutes'"
        )
    after_lease = await client.post("/lab/effect", json=PERSON, headers=headers)

    problem(lost, 500)
    for response in (retried, after_lease):
        body = problem(response, 409)
        assert body["type"].endswith("/idempotency-response-lost")
        assert "Retry-After" not in response.headers
    assert lab.calls["effect"] == 1
    assert await ws.scalar("SELECT count(*) FROM persons") == 1


async def test_a_request_failing_after_its_unit_of_work_leaves_nothing_and_runs_again(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    """The unit of work's transaction is held until the response is complete: a 5xx after
    it rolls the effect back, so the retry runs it (once) rather than answering 409."""
    headers = auth(key=new_key())
    before = {outcome: counted(outcome) for outcome in ("rolled-back", "stored", "replayed")}
    failed = await client.post("/lab/held", json=PERSON, headers=headers)
    persons_after_failure = await ws.scalar("SELECT count(*) FROM persons")
    retried = await client.post("/lab/held", json=PERSON, headers=headers)
    replayed = await client.post("/lab/held", json=PERSON, headers=headers)

    problem(failed, 500)
    assert persons_after_failure == 0
    assert (retried.status_code, retried.json()) == (201, {"call": 2})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == {"call": 2}
    assert lab.calls["held"] == 2
    assert await ws.scalar("SELECT count(*) FROM persons") == 1
    kept = "SELECT count(*) FROM idempotency_keys WHERE status_code = 201 AND effect_committed"
    assert await ws.scalar(kept) == 1  # the response, committed with its effect
    assert {outcome: counted(outcome) - n for outcome, n in before.items()} == {
        "rolled-back": 1,
        "stored": 1,
        "replayed": 1,
    }


def counted(outcome: str) -> float:
    """`koshiqon_idempotent_requests_total` of `outcome` so far, in this process."""
    value = REGISTRY.get_sample_value("koshiqon_idempotent_requests_total", {"outcome": outcome})
    return value or 0.0


async def test_without_a_key_a_unit_of_work_commits_at_once(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    failed = await client.post("/lab/held", json=PERSON, headers=auth())

    problem(failed, 500)
    assert await ws.scalar("SELECT count(*) FROM persons") == 1
    assert await ws.scalar("SELECT count(*) FROM idempotency_keys") == 0


async def test_a_response_goes_out_only_once_its_effect_has_committed(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    """The route rendered 201, then the COMMIT failed: the client gets the failure, nothing
    stays, and the claim is dropped so that a retry runs the request again."""
    headers = auth(key=new_key())
    failures = counted("commit-failed")
    response = await client.post("/lab/uncommittable", json=PERSON, headers=headers)

    body = problem(response, 500)
    assert body["detail"] == "the request could not be committed; nothing of it was kept"
    assert lab.calls["uncommittable"] == 1
    assert counted("commit-failed") == failures + 1
    assert await ws.scalar("SELECT count(*) FROM persons") == 0
    assert await ws.scalar("SELECT count(*) FROM idempotency_keys") == 0


async def test_an_effect_whose_claim_was_taken_over_meanwhile_is_not_committed(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    """A request that outlived its lease lost its claim to a retry: its held effect is
    rolled back rather than committed beside the retry's."""
    headers = auth(key=new_key())
    first = asyncio.create_task(client.post("/lab/held-slow", json=PERSON, headers=headers))
    await asyncio.wait_for(lab.entered.wait(), timeout=10)
    async with ws.engine.begin() as conn:  # as a retry's takeover after the lease does
        await conn.execute(text("UPDATE idempotency_keys SET created_at = clock_timestamp()"))
    lab.release.set()
    response = await asyncio.wait_for(first, timeout=10)

    problem(response, 500)
    assert await ws.scalar("SELECT count(*) FROM persons") == 0
    assert await ws.scalar("SELECT count(*) FROM idempotency_keys") == 1  # the retry's


async def test_a_second_unit_of_work_does_not_wait_for_the_held_first(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    """The second locks the row the first, held, has locked: `settle_held` commits the
    first as the second begins (marked as carried out), instead of a request that waits
    for itself."""
    async with ws.engine.begin() as conn:
        await conn.execute(text("INSERT INTO persons (id, name) VALUES (1, 'Aigerim')"))
    headers = auth(key=new_key())
    response = await asyncio.wait_for(
        client.post("/lab/two-units", json={"name": "Dana"}, headers=headers), timeout=20
    )

    assert (response.status_code, response.json()) == (201, {"call": 1})
    assert await ws.scalar("SELECT count(*) FROM persons WHERE name = 'Dana again'") == 1
    kept = "SELECT count(*) FROM idempotency_keys WHERE status_code = 201 AND effect_committed"
    assert await ws.scalar(kept) == 1


async def test_an_expired_key_with_a_lost_response_is_a_new_key(
    client: httpx.AsyncClient, lab: Lab, ws: Workspace
) -> None:
    headers = auth(key=new_key())
    problem(await client.post("/lab/effect", json=PERSON, headers=headers), 500)
    async with ws.engine.begin() as conn:
        await conn.exec_driver_sql(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
        )
    again = await client.post("/lab/effect", json=PERSON, headers=headers)
    replayed = await client.post("/lab/effect", json=PERSON, headers=headers)

    assert again.status_code == 201, again.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert await ws.scalar("SELECT count(*) FROM persons") == 2


async def test_recording_an_effect_outside_a_keyed_request_does_nothing(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    problem(await client.post("/lab/effect", json=PERSON, headers=auth()), 500)
    assert (await client.post("/lab/effect", json=PERSON, headers=auth())).status_code == 201
    assert await ws.scalar("SELECT count(*) FROM persons") == 2
    assert await ws.scalar("SELECT count(*) FROM idempotency_keys") == 0


async def test_4xx_is_stored(client: httpx.AsyncClient, lab: Lab) -> None:
    headers = auth(key=new_key())
    refused = await client.post("/lab/conflict", json=PERSON, headers=headers)
    again = await client.post("/lab/conflict", json=PERSON, headers=headers)

    assert problem(refused, 409)["detail"] == "refused, call 1"
    assert problem(again, 409)["detail"] == "refused, call 1"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert lab.calls["conflict"] == 1


async def test_expired_key_is_a_new_key_and_purge_removes_it(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    headers = auth(key=new_key())
    first = await client.post("/persons", json=PERSON, headers=headers)
    async with ws.engine.begin() as conn:
        await conn.exec_driver_sql(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
        )
    second = await client.post("/persons", json=PERSON, headers=headers)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]

    async with ws.engine.begin() as conn:
        await conn.exec_driver_sql(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
        )
    async with ws.sessions() as session, session.begin():
        assert await purge_expired_keys(session) == 1
        assert await purge_expired_keys(session, older_than=timedelta(hours=1)) == 0
    assert await ws.scalar("SELECT count(*) FROM idempotency_keys") == 0


# --- pagination ----------------------------------------------------------------------------


async def add_persons(ws: Workspace, count: int) -> list[int]:
    async with ws.sessions() as session, session.begin():
        rows = await session.execute(
            text("INSERT INTO persons (name) SELECT 'p' || n FROM generate_series(1, :count) n "
                 "RETURNING id"),
            {"count": count},
        )  # fmt: skip
        return sorted(row.id for row in rows)


async def test_cursor_walks_every_row_once(client: httpx.AsyncClient, ws: Workspace) -> None:
    expected = await add_persons(ws, 120)
    seen: list[int] = []
    sizes: list[int] = []
    params: dict[str, str | int] = {"limit": 50}
    while True:
        response = await client.get("/persons", params=params, headers=auth())
        assert response.status_code == 200, response.text
        page = response.json()
        sizes.append(len(page["items"]))
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": 50, "cursor": page["next_cursor"]}
    assert sizes == [50, 50, 20]
    assert seen == expected


async def test_tampered_cursor_and_bad_limit_are_422(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    first_id = (await add_persons(ws, 3))[0]
    cursor = (await client.get("/persons?limit=1", headers=auth())).json()["next_cursor"]
    assert decode_cursor(cursor) == (first_id,)
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for bad in (flipped, cursor[:-3], "not a cursor!", "AAAA", "x" * 2000):
        response = await client.get("/persons", params={"cursor": bad}, headers=auth())
        fields = {e["field"] for e in problem(response, 422)["errors"]}
        assert fields <= {"cursor", "query.cursor"}, fields
    for limit in (0, 201, "many"):
        response = await client.get("/persons", params={"limit": limit}, headers=auth())
        assert problem(response, 422)["errors"][0]["field"] == "query.limit"


# --- operations endpoints ------------------------------------------------------------------


async def test_livez_and_readyz(client: httpx.AsyncClient) -> None:
    live = await client.get("/livez")
    assert live.status_code == 200
    assert live.json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "kafka": "ok", "migrations": "ok"},
    }


async def test_readyz_is_503_when_kafka_is_unreachable(
    state_dir: Path, ws: Workspace, lab: Lab
) -> None:
    readiness = [database_check(ws.engine), kafka_check("127.0.0.1:1")]
    async with serving(build_app(ws, lab, readiness)) as client:
        response = await client.get("/readyz")
        assert (await client.get("/livez")).status_code == 200
    body = problem(response, 503)
    assert body["failing"] == ["kafka"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["kafka"] != "ok"
    assert "127.0.0.1" not in response.text


async def test_metrics_label_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/persons/12345", headers=auth())
    await client.get("/no/such/path")

    exposition = (await client.get("/metrics")).text

    template = re.compile(
        r'koshiqon_http_request_duration_seconds_bucket\{[^}]*route="/persons/\{person_id\}"'
        r'[^}]*status="404"'
    )
    assert template.search(exposition)
    assert 'route="/persons/12345"' not in exposition
    assert 'route="unmatched"' in exposition
    assert 'route="/no/such/path"' not in exposition


async def test_lifespan_of_the_service_runs_inside_the_factorys(
    state_dir: Path, ws: Workspace, lab: Lab
) -> None:
    app = build_app(ws, lab, [])
    async with serving(app):
        assert lab.calls["lifespan"] == 1
        assert app.state.sessions.kw["bind"] is app.state.engine
    assert lab.calls["lifespan"] == 2


# --- OpenAPI and docs ----------------------------------------------------------------------


async def test_openapi_is_3_1(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.1.")
    assert "/persons/{person_id}" in schema["paths"]
    assert "/livez" not in schema["paths"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_render_with_local_assets_only(client: httpx.AsyncClient, page: str) -> None:
    html = await client.get(page)
    assert html.status_code == 200
    assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html.text)
    assert assets, "the page references no assets"
    assert not [a for a in assets if re.match(r"(?i)(https?:)?//", a)]
    assert "http://" not in html.text
    assert "https://" not in html.text
    for asset in assets:
        assert asset.startswith("/static/docs/")
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 0


async def test_openapi_documents_errors_as_problem_json(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error_responses = [
        response
        for path_item in document["paths"].values()
        for operation in path_item.values()
        for status, response in operation.get("responses", {}).items()
        if status[0] in "45"
    ]
    assert error_responses, "the test app declares validation errors at least"
    for response in error_responses:
        assert list(response["content"]) == ["application/problem+json"]
        assert response["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }


async def test_openapi_documents_413_on_operations_with_a_body(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "413" in paths["/persons"]["post"]["responses"]
    assert "413" not in paths["/persons"]["get"]["responses"]


async def test_openapi_documents_the_idempotency_key_on_every_post(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    posts = {path: item["post"] for path, item in paths.items() if "post" in item}
    assert "/persons" in posts
    for operation in posts.values():
        [key] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert (key["in"], key["required"]) == ("header", False)
        responses = operation["responses"]
        assert {"409", "422"} <= set(responses)
        assert responses["409"]["content"]["application/problem+json"]
        for status, response in responses.items():
            if status.startswith("2"):
                assert "Idempotent-Replayed" in response["headers"]
    get = paths["/persons"]["get"]
    assert all(p["name"] != "Idempotency-Key" for p in get.get("parameters", []))
