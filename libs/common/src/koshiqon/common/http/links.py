"""OpenAPI links (OpenAPI 3.1, the Link Object): which operations a response leads to, and
which of its values they take. A client reads them as "what can I do with what I just got";
schemathesis's stateful tests follow them to chain calls (create, then read, change, act on
what was created).

A route documents its links next to its other responses::

    @router.post(
        "/quotas",
        status_code=201,
        responses={**ADMIN, **links(201, get_quota=link("GET", "/v1/quotas/{quota_id}",
                                                        quota_id="$response.body#/id"))},
    )

A link names its target by `operationRef`, a JSON pointer to the operation in the same
document (`#/paths/~1v1~1quotas~1{quota_id}/get`), rather than by `operationId`: FastAPI
derives the ids from function names, which a rename would change under the link. Each
parameter is a runtime expression: `$response.body#/id`, `$request.path.kato`,
`$response.header.ETag`. A parameter that is not a path parameter is named with its place,
`"query.person_id"` or `"header.If-Match"` (pass it as `**{"header.If-Match": ...}`).
"""

from __future__ import annotations

from typing import Any

_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def link(method: str, path: str, /, **parameters: str) -> dict[str, Any]:
    """A Link Object to the operation `method path` of the same document."""
    verb = method.lower()
    if verb not in _METHODS:
        raise ValueError(f"not an HTTP method: {method!r}")
    if not path.startswith("/"):
        raise ValueError(f"a path starts with '/': {path!r}")
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{verb}", "parameters": dict(parameters)}


def links(status: int, /, **named: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the links of the response `status` (FastAPI merges it with the
    route's own response of that status)."""
    return {status: {"links": dict(named)}}


def operation_of(document: dict[str, Any], operation_ref: str) -> tuple[str, str] | None:
    """The (path, method) a local `operationRef` points at in `document`, or None when it
    points at nothing there."""
    prefix = "#/paths/"
    if not operation_ref.startswith(prefix):
        return None
    pointer, _, verb = operation_ref[len(prefix) :].rpartition("/")
    path = pointer.replace("~1", "/").replace("~0", "~")
    if verb not in document.get("paths", {}).get(path, {}):
        return None
    return path, verb


def broken_links(document: dict[str, Any]) -> list[str]:
    """What is wrong with the links of `document`: a target that is not one of its
    operations, or a parameter that its target does not take. Empty when all is well."""
    found: list[str] = []
    for path, item in document.get("paths", {}).items():
        for verb, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                for name, each in response.get("links", {}).items():
                    where = f"{verb.upper()} {path} {status} {name}"
                    found += _link_problems(document, where, each)
    return found


def _link_problems(document: dict[str, Any], where: str, each: dict[str, Any]) -> list[str]:
    target = operation_of(document, each.get("operationRef", ""))
    if target is None:
        return [f"{where}: no operation at {each.get('operationRef')!r}"]
    path, verb = target
    operation = document["paths"][path][verb]
    taken = {(p["in"], p["name"].lower()) for p in operation.get("parameters", [])}
    problems = []
    for key, expression in each.get("parameters", {}).items():
        place, _, name = key.rpartition(".") if "." in key else ("path", "", key)
        if (place, name.lower()) not in taken:
            problems.append(f"{where}: {verb.upper()} {path} takes no {place} parameter {name}")
        if not isinstance(expression, str) or not expression.startswith("$"):
            problems.append(f"{where}: {key} is not a runtime expression: {expression!r}")
    return problems
