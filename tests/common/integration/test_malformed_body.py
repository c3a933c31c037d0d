"""A malformed request body gets one answer on every route: 422 problem+json whose `errors`
name the body and say the JSON is malformed, never FastAPI's undocumented 400.

FastAPI turns a body whose JSON syntax is broken (truncated, garbage, trailing data) into a
validation error at the body's character offset, but one it cannot decode otherwise (bytes
that are not UTF-8, nesting too deep for the parser) into `HTTPException(400, "There was
an error parsing the body")`. Both go through `koshiqon.common.http.problems`. Checked on a
lab app built with `create_app` and on the registration and quota services' real apps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from pydantic import BaseModel, Field
from support.http import served
from support.selftest import Workspace
from support.services import migrated_schema

from koshiqon.common.auth import Principal, require_scopes
from koshiqon.common.errors import InvalidInput
from koshiqon.common.http.app import create_app
from koshiqon.common.settings import ServiceSettings
from koshiqon.devtools.devkey import issue_dev_token

pytestmark = pytest.mark.integration

Writer = Annotated[Principal, Depends(require_scopes("lab:write"))]

# body, content type
MALFORMED: dict[str, tuple[bytes, str]] = {
    "truncated": (b'{"name": "Aig', "application/json"),
    "not JSON at all": (b"name=Aigerim", "application/json"),
    "trailing data": (b'{"name": "Aigerim"} {"name": "again"}', "application/json"),
    "a missing comma": (b'{"name": "Aigerim" "family": []}', "application/json"),
    "not UTF-8": (b'{"name": "\xc0\xaf\xff"}', "application/json"),
    "Latin-1, declared": (
        '{"name": "Aigérim"}'.encode("latin-1"),
        "application/json; charset=latin-1",
    ),
    "nested too deeply": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "a +json type": (b'{"name": ', "application/merge-patch+json"),
}

# a CSV file saved in Windows-1251, not UTF-8 (the region Abai, in Cyrillic)
CP1251_CSV = "region;limit\n\u0410\u0431\u0430\u0439;10\n".encode("cp1251")


class MemberIn(BaseModel):
    iin: str = Field(pattern=r"^\d{12}$")


class PersonIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    family: list[MemberIn] = []


def lab_router() -> APIRouter:
    router = APIRouter(prefix="/lab")

    @router.post("/persons", status_code=201)
    async def add_person(body: PersonIn, principal: Writer) -> dict[str, str]:
        return {"name": body.name}

    @router.post("/batch", status_code=201)
    async def batch(principal: Writer, ids: Annotated[list[int], Body()]) -> dict[str, int]:
        return {"count": len(ids)}

    @router.post(
        "/orders",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
    async def import_order(request: Request, principal: Writer) -> dict[str, int]:
        """Reads its body itself, as quota's order import does."""
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("an order file is UTF-8 text", field="body") from None
        return {"lines": len(text.splitlines())}

    return router


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh development signing key, not the checkout's."""
    monkeypatch.setenv("KOSHIQON_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def app(ws: Workspace, state_dir: Path) -> FastAPI:
    settings = ServiceSettings(
        service_name="malformed",
        environment="test",
        database_url=ws.dsn,  # type: ignore[arg-type]
        database_schema=ws.schema,
    )
    return create_app(
        settings, title="Malformed bodies", version="0.0.1", routers=[lab_router()], readiness=[]
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with served(app, "http://lab") as c:
        yield c


def auth(*scopes: str, key: str | None = None) -> dict[str, str]:
    token = issue_dev_token(scopes=list(scopes or ["lab:write"]), subject="agency-a")
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def post(
    client: httpx.AsyncClient, path: str, body: bytes, content_type: str, **headers: str
) -> httpx.Response:
    return await client.post(path, content=body, headers={"content-type": content_type, **headers})


def malformed_body_problem(response: httpx.Response) -> dict[str, Any]:
    """The one answer to a malformed body; returns the problem."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"] == "https://koshiqon.kz/problems/validation"
    assert problem["status"] == 422
    assert problem["detail"] == "invalid value in: body"
    [error] = problem["errors"]
    assert error["field"] == "body"
    assert error["message"].startswith("malformed JSON: "), error
    return problem


# --- the lab app ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", MALFORMED)
@pytest.mark.parametrize("path", ["/lab/persons", "/lab/batch"])
async def test_a_malformed_json_body_answers_422_naming_the_body(
    client: httpx.AsyncClient, path: str, case: str
) -> None:
    body, content_type = MALFORMED[case]

    response = await post(client, path, body, content_type, **auth())

    assert malformed_body_problem(response)["instance"] == path


async def test_the_message_says_what_is_wrong_with_the_json(client: httpx.AsyncClient) -> None:
    said = {}
    for case in ("truncated", "not UTF-8", "nested too deeply"):
        body, content_type = MALFORMED[case]
        response = await post(client, "/lab/persons", body, content_type, **auth())
        said[case] = malformed_body_problem(response)["errors"][0]["message"]

    assert said == {
        "truncated": "malformed JSON: Unterminated string starting at: character 9",
        "not UTF-8": "malformed JSON: the body is not UTF-8 text (byte 10)",
        "nested too deeply": "malformed JSON: the body is nested too deeply",
    }


async def test_under_an_idempotency_key_the_same_422_is_kept_and_replayed(
    client: httpx.AsyncClient,
) -> None:
    body, content_type = MALFORMED["not UTF-8"]
    headers = auth(key=f"key-{uuid.uuid4()}")

    first = await post(client, "/lab/persons", body, content_type, **headers)
    again = await post(client, "/lab/persons", body, content_type, **headers)

    assert malformed_body_problem(first) == malformed_body_problem(again)
    assert again.headers["idempotent-replayed"] == "true"


async def test_well_formed_json_still_names_the_invalid_field(client: httpx.AsyncClient) -> None:
    body = b'{"name": "Aigerim", "family": [{"iin": "12"}]}'

    response = await post(client, "/lab/persons", body, "application/json", **auth())

    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["family[0].iin"]
    ok = await post(client, "/lab/persons", b'{"name": "Aigerim"}', "application/json", **auth())
    assert ok.status_code == 201, ok.text


async def test_json_sent_as_another_type_is_told_to_say_json(client: httpx.AsyncClient) -> None:
    response = await post(client, "/lab/persons", b'{"name": "Aigerim"}', "text/plain", **auth())

    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "body", "message": "expected a JSON body (Content-Type: application/json)"}
    ]


async def test_a_csv_route_reading_its_own_body_names_the_body_too(
    client: httpx.AsyncClient,
) -> None:
    refused = await post(client, "/lab/orders", CP1251_CSV, "text/csv", **auth())
    accepted = await post(client, "/lab/orders", b"region;limit\n", "text/csv", **auth())

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [{"field": "body", "message": "an order file is UTF-8 text"}]
    assert accepted.status_code == 201, accepted.text


def assert_documents_the_malformed_body(openapi: dict[str, Any]) -> None:
    """No operation promises a 400 (none is sent); every one taking a body documents the
    422 a malformed one gets, as problem+json."""
    with_body = 0
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.get("responses", {})
            assert "400" not in responses, f"{method.upper()} {path} documents a 400"
            if "requestBody" in operation:
                with_body += 1
                documented = responses.get("422")
                assert documented is not None, f"{method.upper()} {path} has no 422"
                assert "application/problem+json" in documented["content"]
    assert with_body > 0


async def test_the_lab_openapi_documents_the_422_and_no_400(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()

    assert_documents_the_malformed_body(openapi)
    assert (
        "not valid JSON"
        in openapi["paths"]["/lab/orders"]["post"]["responses"]["422"]["description"]
    )


# --- the real services ---------------------------------------------------------------------


@pytest.fixture(scope="module")
async def registration(admin_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    from koshiqon.registration.bootstrap import MIGRATIONS, build_app
    from koshiqon.registration.config import RegistrationSettings

    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        settings = RegistrationSettings(
            database_url=schema.dsn,  # type: ignore[arg-type]
            database_schema=schema.schema,  # type: ignore[arg-type]
            environment="test",
        )
        async with served(build_app(settings), "http://registration") as client:
            yield client


@pytest.fixture(scope="module")
async def quota(admin_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    from koshiqon.quota.bootstrap import MIGRATIONS, build_app
    from koshiqon.quota.config import QuotaSettings

    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        settings = QuotaSettings(
            database_url=schema.dsn,  # type: ignore[arg-type]
            database_schema=schema.schema,
            environment="test",
        )
        async with served(build_app(settings), "http://quota") as client:
            yield client


@pytest.mark.parametrize("case", ["truncated", "not UTF-8", "nested too deeply"])
async def test_registration_answers_a_malformed_body_the_same(
    registration: httpx.AsyncClient, case: str
) -> None:
    body, content_type = MALFORMED[case]
    headers = auth("registration:write")

    malformed_body_problem(await post(registration, "/v1/persons", body, content_type, **headers))
    keyed = auth("registration:write", key=f"key-{uuid.uuid4()}")
    malformed_body_problem(await post(registration, "/v1/persons", body, content_type, **keyed))


@pytest.mark.parametrize("case", ["truncated", "not UTF-8", "nested too deeply"])
async def test_quota_answers_a_malformed_body_the_same(quota: httpx.AsyncClient, case: str) -> None:
    body, content_type = MALFORMED[case]

    response = await post(quota, "/v1/quotas", body, content_type, **auth("quota:admin"))

    malformed_body_problem(response)


async def test_quota_order_import_names_the_body_of_a_file_that_is_not_utf8(
    quota: httpx.AsyncClient,
) -> None:
    response = await post(
        quota, "/v1/quota-orders?order=o-1", CP1251_CSV, "text/csv", **auth("quota:admin")
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["body"]


async def test_the_services_openapi_documents_the_422_and_no_400(
    registration: httpx.AsyncClient, quota: httpx.AsyncClient
) -> None:
    for client in (registration, quota):
        assert_documents_the_malformed_body((await client.get("/openapi.json")).json())
