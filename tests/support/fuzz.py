"""Schemathesis over every operation of a service's OpenAPI document, in-process (the ASGI
client runs the app's lifespan on its own loop): with each of the given headers, no 5xx and
every response conforming to the document (status code, content type, body schema)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_every_operation(
    app: FastAPI,
    *,
    headers: Sequence[Mapping[str, str]],
    operations: int,
    examples: int,
) -> None:
    """Fuzz each of the app's `operations` (their count is checked, so a route left out of
    the document is noticed) with `examples` cases per set of headers."""
    schema: Any = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) == operations, [f"{o.method} {o.path}" for o in found]
    asgi_app: Any = app
    with asgi.get_client(asgi_app) as client:
        for each in headers:
            for operation in found:
                _fuzz(operation.as_strategy(), client=client, headers=dict(each), examples=examples)


def _fuzz(
    strategy: st.SearchStrategy[Any],
    *,
    client: object,
    headers: dict[str, str],
    examples: int,
) -> None:
    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        case.call_and_validate(session=client, headers=headers, checks=CHECKS)

    run()
