"""What the fuzzing found in the shared HTTP layer, and the pieces it added: a problem's
standard members are never replaced by an error's extension members (a 409 once answered
`"status": "draft"`); request text holding NUL is a 422 naming the field (PostgreSQL's text
cannot store it: it was a 500); OpenAPI links point at operations that exist."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from koshiqon.common.http.links import broken_links, link, links, operation_of
from koshiqon.common.http.problems import problem_response
from koshiqon.common.http.text import NUL_MESSAGE, TextInput, holds_nul, no_nul


def test_an_extension_member_does_not_replace_a_standard_one() -> None:
    response = problem_response(
        409, title="Conflict", detail="no", code="illegal", instance="/v1/x",
        extra={"status": "draft", "type": "other", "instance": "/elsewhere", "allowed": []},
    )  # fmt: skip
    body = orjson.loads(response.body)
    assert (body["status"], body["type"], body["instance"], body["allowed"]) == (
        409,
        "https://koshiqon.kz/problems/illegal",
        "/v1/x",
        [],
    )


class Named(TextInput):
    name: str
    tags: list[str] = []
    nested: dict[str, str] = {}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "a\x00b"}, "name"),
        ({"name": "a", "tags": ["ok", "\x00"]}, "tags"),
        ({"name": "a", "nested": {"k\x00": "v"}}, "nested"),
    ],
)
def test_text_holding_nul_is_refused_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Named.model_validate(data)
    (error,) = caught.value.errors()
    assert (error["loc"], NUL_MESSAGE in error["msg"]) == ((field,), True)


def test_text_without_nul_passes() -> None:
    assert Named.model_validate({"name": "Қостанай", "tags": ["a"]}).name == "Қостанай"
    assert not holds_nul({"a": ["b", ("c",)]})
    assert (no_nul("order 12"), no_nul(None)) == ("order 12", None)
    with pytest.raises(ValueError, match="NUL"):
        no_nul("order\x0012")


DOCUMENT = {
    "paths": {
        "/v1/quotas": {"post": {"responses": {"201": {}}}},
        "/v1/quotas/{quota_id}": {
            "get": {"parameters": [{"in": "path", "name": "quota_id"}], "responses": {}}
        },
        "/v1/audit": {"get": {"parameters": [{"in": "query", "name": "person_id"}]}},
    }
}


def test_a_link_points_at_its_operation_by_a_json_pointer() -> None:
    made = link("GET", "/v1/quotas/{quota_id}", quota_id="$response.body#/id")
    assert made["operationRef"] == "#/paths/~1v1~1quotas~1{quota_id}/get"
    assert operation_of(DOCUMENT, made["operationRef"]) == ("/v1/quotas/{quota_id}", "get")
    assert operation_of(DOCUMENT, "#/paths/~1v1~1nowhere/get") is None


def test_broken_links_are_named() -> None:
    good = link("GET", "/v1/quotas/{quota_id}", quota_id="$response.body#/id")
    query = link("GET", "/v1/audit", **{"query.person_id": "$response.body#/id"})
    document = {"paths": {**DOCUMENT["paths"]}}
    document["paths"]["/v1/quotas"] = {
        "post": {"responses": {"201": links(201, a=good, b=query)[201]}}
    }
    assert broken_links(document) == []
    document["paths"]["/v1/quotas"]["post"]["responses"]["201"]["links"].update(
        missing=link("GET", "/v1/nowhere"),
        wrong=link("GET", "/v1/quotas/{quota_id}", id="$response.body#/id"),
        literal=link("GET", "/v1/quotas/{quota_id}", quota_id="42"),
    )
    found = broken_links(document)
    assert len(found) == 3, found
    assert any("no operation" in f for f in found)
    assert any("takes no path parameter id" in f for f in found)
    assert any("not a runtime expression" in f for f in found)
