"""The `Idempotency-Key` in OpenAPI: the header, the replay marker, the 409 and 422."""

from __future__ import annotations

from typing import Any

from koshiqon.common.http.idempotency.middleware import IDEMPOTENCY_HEADER, REPLAYED_HEADER
from koshiqon.common.http.problems import problem_responses

_KEY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the POST safe to retry: a repeat with the same key, route and body gets the"
        " first response again (with `Idempotent-Replayed: true`), for 24 hours; the same key"
        " with another route or body is refused (422), and a repeat while the first is still"
        " running gets 409 with `Retry-After`. Keys are the caller's own: another caller's"
        " identical key is another key."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[ -~]+$"},
}
_REPLAYED_DESCRIPTION = {
    "description": "`true` on a replay: the response to the first request with this key",
    "schema": {"type": "string", "enum": ["true"]},
}


def idempotency_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI document so every POST declares the optional `Idempotency-Key`
    header, the `Idempotent-Replayed` header of its successful responses, and the 409 and
    422 a key can answer."""
    for path_item in schema.get("paths", {}).values():
        operation = path_item.get("post")
        if not isinstance(operation, dict):
            continue
        operation.setdefault("parameters", []).append(dict(_KEY_PARAMETER))
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            if str(status).startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = dict(_REPLAYED_DESCRIPTION)
        for status, documented in problem_responses(409, 422).items():
            responses.setdefault(str(status), {"description": documented["description"]})
    return schema
