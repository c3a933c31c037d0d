"""RFC 9457 problem details: one mapping from errors to `application/problem+json`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from koshiqon.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from koshiqon.common.transient import is_transient

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://koshiqon.kz/problems/"

_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Unauthenticated: 401,
    Forbidden: 403,
}

log = logging.getLogger("koshiqon.http")


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response of every service carries them."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, malformed, expired or badly signed bearer token",
    403: "The token lacks the scope or the region this operation needs",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "The request body is larger than the service accepts (`http_max_body_bytes`)",
    422: "Invalid input; `errors` names each field (`body` for a body that is not valid JSON)",
    503: "A dependency (the database) is unavailable for a moment; retry after `Retry-After`",
}


_UNAVAILABLE_RESPONSE: dict[str, Any] = {
    "description": _DESCRIPTIONS[503],
    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented as application/problem+json."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI document so every 4xx/5xx response is `application/problem+json`
    with the `Problem` schema, FastAPI's default 422 body included, every operation
    documents the 503 it answers while the database is away, and every one that takes a
    body the 413 it answers to one that is too large and the 422 to one that is malformed."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components.setdefault(
        "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    components.setdefault("FieldError", FieldError.model_json_schema())
    components["Problem"].pop("$defs", None)
    reference = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("503", dict(_UNAVAILABLE_RESPONSE))
            if "requestBody" in operation:
                responses.setdefault("413", {"description": _DESCRIPTIONS[413]})
                responses.setdefault("422", {"description": _DESCRIPTIONS[422]})
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = {PROBLEM_JSON: reference}
            if responses.get("422", {}).get("description") == "Validation Error":  # FastAPI default
                responses["422"]["description"] = _DESCRIPTIONS[422]
    return schema


def status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400 if type(error) is DomainError else 422


def problem_response(
    status: int,
    *,
    title: str,
    detail: str,
    code: str,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    for name, value in (extra or {}).items():  # an extension never replaces a standard member
        body.setdefault(name, value)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_path(loc: Sequence[int | str]) -> str:
    """`("body", "family", 0, "iin")` → `family[0].iin`, and the body itself → `body`; the
    request part is kept for query, path, header and cookie parameters, where the name alone
    would be ambiguous."""
    parts = list(loc)
    prefix = ""
    if parts and parts[0] == "body":
        parts = parts[1:]
    elif parts and parts[0] in ("query", "path", "header", "cookie"):
        prefix = f"{parts[0]}."
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return prefix + (out or "body")


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = status_for(exc)
    extra: dict[str, Any] = dict(exc.extra)
    if exc.field:
        extra["errors"] = [{"field": exc.field, "message": exc.detail}]
    headers = {"WWW-Authenticate": _bearer_challenge(exc)} if status == 401 else None
    return problem_response(
        status,
        title=exc.title,
        detail=exc.detail,
        code=exc.code,
        instance=request.url.path,
        extra=extra,
        headers=headers,
    )


def _bearer_challenge(exc: DomainError) -> str:
    """RFC 6750 §3.1: no error code when the request carried no credentials at all."""
    if isinstance(exc, Unauthenticated) and not exc.credentials_sent:
        return 'Bearer realm="koshiqon"'
    return 'Bearer realm="koshiqon", error="invalid_token"'


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_error(err) for err in exc.errors()]
    return _validation_failed(errors, instance=request.url.path)


def _validation_failed(errors: list[dict[str, str]], *, instance: str) -> Response:
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        422,
        title="Validation failed",
        detail=f"invalid value in: {fields}",
        code="validation",
        instance=instance,
        extra={"errors": errors},
    )


def _field_error(err: dict[str, Any]) -> dict[str, str]:
    """One entry of `errors`. A body that is not JSON at all is FastAPI's own `json_invalid`
    at `("body", <offset>)`: it names the body, not a field `[offset]`. A body left as bytes
    (not declared JSON by its content type) is said to be so."""
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid" and len(loc) == 2 and isinstance(loc[1], int):
        why = (err.get("ctx") or {}).get("error", "invalid syntax")
        return {"field": "body", "message": f"{MALFORMED_JSON}: {why}: character {loc[1]}"}
    if loc == ("body",) and isinstance(err.get("input"), bytes):
        return {"field": "body", "message": "expected a JSON body (Content-Type: application/json)"}
    return {"field": _field_path(loc), "message": err.get("msg", "invalid")}


MALFORMED_JSON = "malformed JSON"
# what FastAPI raises, as HTTPException(400), when decoding a JSON body fails otherwise than
# with a JSONDecodeError: bytes that are not UTF-8 (UnicodeDecodeError), nesting too deep for
# the parser (RecursionError)
_BODY_PARSE_ERROR = "There was an error parsing the body"


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
        return _validation_failed(
            [{"field": "body", "message": _unparsable(exc.__cause__)}], instance=request.url.path
        )
    return http_error_response(exc, instance=request.url.path)


def _unparsable(cause: BaseException | None) -> str:
    """Why the body could not be decoded, said as for a JSON body that is malformed."""
    if isinstance(cause, UnicodeDecodeError):
        return f"{MALFORMED_JSON}: the body is not UTF-8 text (byte {cause.start})"
    if isinstance(cause, RecursionError):
        return f"{MALFORMED_JSON}: the body is nested too deeply"
    return f"{MALFORMED_JSON}: the body could not be decoded"


def http_error_response(exc: StarletteHTTPException, *, instance: str | None) -> Response:
    """The problem an `HTTPException` is answered with, by the app's handler or by a
    middleware outside it (`body_limit`)."""
    return problem_response(
        exc.status_code,
        title=str(exc.detail) if exc.detail else "HTTP error",
        detail=str(exc.detail),
        code=f"http-{exc.status_code}",
        instance=instance,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    """500, logged with its traceback; or 503 with Retry-After when the database is what
    failed (`transient`)."""
    if transient(exc):
        return _unavailable(request, exc)
    log.error(
        "http.unhandled-error",
        extra={"path": request.url.path, "error_type": type(exc).__name__},
        exc_info=exc,
    )
    return problem_response(
        500,
        title="Internal error",
        detail="the request could not be completed; it has been logged",
        code="internal",
        instance=request.url.path,
    )


RETRY_AFTER_SECONDS = 2

# failures of the database connection or of a transaction the server aborted, not of the
# request: a client that retries later succeeds, so they answer 503 with Retry-After, not
# 500. The classifier is the one the consumer runner retries by (koshiqon.common.transient).
transient = is_transient


def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning(
        "http.dependency-unavailable",
        extra={"path": request.url.path, "error_type": type(exc).__name__},
    )
    return problem_response(
        503,
        title="Service unavailable",
        detail="the service's database is unavailable for a moment; retry later",
        code="unavailable",
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
