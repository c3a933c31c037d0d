"""Schemathesis over a service's OpenAPI document, in-process (the ASGI client runs the app's
lifespan on its own loop), on the service's real PostgreSQL schema.

- `fuzz_every_operation`: every operation on its own, with each of the given headers: no
  5xx, every response conforming to the document (status code, content type, headers, body).
- `fuzz_refused`: every operation with each of the `refused_tokens` (expired, badly signed,
  of another issuer, without the service's scopes...): every answer is the documented 401
  or 403 problem the token deserves, whatever the request.
- `fuzz_stateful`: the document's OpenAPI links followed (create, then read, change, act on
  what was created), from `Seed` calls that make a resource the domain accepts, with valid
  data and the same checks; each step that a link led to is first sent with the refused
  tokens (a real resource behind a bad token is still refused), then with the valid one.
  It returns what each operation answered, so a test can show the links were followed (a
  read of a created resource answering 200, which a made-up id never does). The schema is
  emptied before each scenario (`emptier`), so that a replay meets the state it met first.

What is read before the route's dependencies verify the token (a body that is no JSON, an
Idempotency-Key that is no key) may be a 422 for a refused token: see `_unparsable_body`.
Every run is seeded (`derandomize`) and bounded (`examples`, `scenarios`, `steps`)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful.state_machine import StepOutput
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from koshiqon.common.database.engine import create_engine
from koshiqon.common.http.links import broken_links
from koshiqon.devtools.devkey import (
    DEV_ALGORITHM,
    DEV_AUDIENCE,
    DEV_ISSUER,
    DEV_KID,
    dev_private_key,
    issue_dev_token,
    sign_token,
)
from support.services import ServiceSchema, migrated_schema

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# a resource a link's source just created, then not found by the operation it links to
STATEFUL_CHECKS = [*CHECKS, ensure_resource_availability]
# a request that breaks the document's rules is refused, not carried out
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
# what refuses one: schemathesis' list, and 413 (a body past `http_max_body_bytes`)
_REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    # a failure is reported as found: shrinking a stateful run replays it against a service
    # whose state it cannot undo, and the explain phase traces every line (minutes on 3.11)
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
    "suppress_health_check": list(HealthCheck),
}


# --- stateless ------------------------------------------------------------------------------


def fuzz_every_operation(
    app: FastAPI,
    *,
    headers: Sequence[Mapping[str, str]],
    operations: int,
    examples: int,
    invalid: int = 0,
) -> None:
    """Fuzz each of the app's `operations` (their count is checked, so a route left out of
    the document is noticed) with `examples` valid cases per set of headers, and `invalid`
    cases that break the document's own rules, each of which must be refused (4xx)."""
    found = _operations(app, operations)
    with _client(app) as client:
        for each in headers:
            for operation in found:
                _fuzz(operation.as_strategy(), client, dict(each), CHECKS, examples)
                if invalid:
                    negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
                    _fuzz(negative, client, dict(each), NEGATIVE_CHECKS, invalid)


@dataclass(frozen=True)
class Refused:
    """Headers every request to the operations `applies` names (by default all) is refused
    with: one of `statuses`, as a documented problem."""

    name: str
    headers: Mapping[str, str]
    statuses: frozenset[int]
    applies: Callable[[str], bool] = lambda _: True
    # a 422 (or 428: no If-Match) is right too when the right token's answer is the same:
    # where the region is checked against the resource, after the input (stateful runs)
    invalid_first: bool = False


_INPUT_ERRORS = frozenset({422, 428})


def wrong_region(
    headers: Mapping[str, str], applies: Callable[[str], bool], *, statuses: Sequence[int]
) -> Refused:
    """A good token of another region than the resources a stateful run's seeds make, on
    the operations `applies` names (those about a resource of the seeds' region): 403, or
    404 where the service hides another region's resources; or the 422 or 428 the right
    token gets, for input that is invalid whoever sends it. Give the token a subject of its
    own: an Idempotency-Key is the caller's (its subject's), and a repeat is a replay."""
    return Refused("of another region", headers, frozenset(statuses), applies, True)


STATEFUL_PROBES = ("none", "expired", "wrong signature", "missing scope")


def stateful_probes(refused: Sequence[Refused]) -> list[Refused]:
    """The refused tokens each linked step of a stateful run is tried with (every one of
    them is, on every operation, in `fuzz_refused`): one of each kind, and any other."""
    return [r for r in refused if r.name in STATEFUL_PROBES or r.name not in _KINDS]


def refused_tokens(
    scopes: Sequence[str], *, foreign_scope: str = "elsewhere:read"
) -> list[Refused]:
    """Credentials no operation accepts: 401 for those that cannot be trusted, though they
    claim every one of `scopes` (none, malformed, expired, not yet valid, signed by another
    key, of another issuer or audience, without the region claim, with a district for a
    region); 403 for a good token without any of the service's scopes (`foreign_scope`)."""
    key, now = dev_private_key(), datetime.now(UTC)
    claims = _claims(now, scopes)

    def signed(**changed: Any) -> dict[str, str]:
        changes = {k: v for k, v in changed.items() if v is not None}
        dropped = [k for k, v in changed.items() if v is None]
        body = {k: v for k, v in {**claims, **changes}.items() if k not in dropped}
        return _bearer(sign_token(key, kid=DEV_KID, claims=body, algorithm=DEV_ALGORITHM))

    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = sign_token(stranger, kid=DEV_KID, claims=claims, algorithm=DEV_ALGORITHM)
    hour_ago = now - timedelta(hours=1)
    unauthenticated = {
        "none": {},
        "not bearer": {"Authorization": "Basic c2NoZW1hdGhlc2lzOnNlY3JldA=="},
        "malformed": _bearer("not.a.jwt"),
        "expired": _bearer(
            issue_dev_token(scopes=scopes, subject="fuzz", ttl_seconds=60, now=hour_ago)
        ),
        "not yet valid": signed(nbf=int((now + timedelta(hours=1)).timestamp())),
        "wrong signature": _bearer(forged),
        "wrong issuer": signed(iss="someone-else"),
        "wrong audience": signed(aud="another-system"),
        "no region claim": signed(region=None),
        "district as region": signed(region="551010000"),
    }
    refused = [Refused(n, h, frozenset({401})) for n, h in unauthenticated.items()]
    assert set(unauthenticated) | {"missing scope"} == _KINDS
    scopeless = issue_dev_token(scopes=[foreign_scope], subject="fuzz", ttl_seconds=600)
    refused.append(Refused("missing scope", _bearer(scopeless), frozenset({403})))
    return refused


def fuzz_refused(
    app: FastAPI, *, refused: Sequence[Refused], operations: int, examples: int
) -> Counter[int]:
    """Each operation with each of `refused`: every answer one of its statuses, documented,
    with the problem body. Returns the statuses seen."""
    found = _operations(app, operations)
    seen: Counter[int] = Counter()
    with _client(app) as client:
        for each in refused:
            checks = [*CHECKS, _answered_with(each, seen)]
            for operation in found:
                if each.applies(_label(operation)):
                    _fuzz(operation.as_strategy(), client, dict(each.headers), checks, examples)
    return seen


_KINDS = frozenset({
    "none", "not bearer", "malformed", "expired", "not yet valid", "wrong signature",
    "wrong issuer", "wrong audience", "no region claim", "district as region", "missing scope",
})  # fmt: skip


# --- stateful -------------------------------------------------------------------------------


Reset = Callable[[], None]
_HOLDERS = (
    "SELECT pid, application_name, state, now() - xact_start AS in_transaction, query "
    "FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()"
)


@contextmanager
def fuzzed_schema(
    admin_dsn: str,
    migrations: Path,
    *,
    prepare: Callable[[ServiceSchema], Awaitable[object]] | None = None,
) -> Iterator[tuple[ServiceSchema, Reset]]:
    """A service's migrated schema for a module of fuzz tests, made (then `prepare`d: the
    reference data a scenario keeps) and dropped on a loop of its own, since the app runs on
    the ASGI client's; and what empties it again between stateful scenarios."""
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        service = loop.run_until_complete(
            stack.enter_async_context(migrated_schema(admin_dsn, migrations))
        )
        if prepare is not None:
            loop.run_until_complete(prepare(service))
        yield service, loop.run_until_complete(emptier(service.dsn, service.schema))
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


async def emptier(dsn: str, schema: str) -> Reset:
    """What puts `schema` back as it is now: its tables that are empty now are emptied
    again (the reference data its migrations loaded stays). Called at the start of each
    stateful scenario, so that a scenario replayed meets the state it met the first time
    (Hypothesis refuses a run whose replays draw differently)."""
    names = await _empty_tables(dsn, schema)
    statement = f"TRUNCATE {', '.join(f'{schema}.{n}' for n in names)} RESTART IDENTITY CASCADE"

    async def truncate() -> None:
        engine = create_engine(dsn, schema=schema, application="fuzz", pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                await conn.execute(text(statement))
        except Exception as error:  # a session of the app holds a lock: say whose
            async with engine.connect() as conn:
                rows = (await conn.execute(text(_HOLDERS))).all()
            raise AssertionError(
                f"the schema could not be emptied; its sessions: {rows}"
            ) from error
        finally:
            await engine.dispose()

    def reset() -> None:
        if names:
            asyncio.run(truncate())

    return reset


async def _empty_tables(dsn: str, schema: str) -> list[str]:
    engine = create_engine(dsn, schema=schema, application="fuzz", pool_size=1)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = :schema AND table_type = 'BASE TABLE'"
                    ),
                    {"schema": schema},
                )
            ).scalars()
            names = sorted(str(t) for t in tables)
            return [
                n
                for n in names
                if not (
                    await conn.execute(text(f'SELECT EXISTS (SELECT FROM "{schema}"."{n}")'))
                ).scalar()
            ]
    finally:
        await engine.dispose()


@dataclass
class Answers:
    """What a stateful run's valid calls were answered, by operation (`POST /v1/quotas`),
    the linked calls that found their resource (`linked`), and how many linked steps were
    probed with refused tokens."""

    by_operation: dict[str, Counter[int]] = field(default_factory=dict)
    linked: Counter[str] = field(default_factory=Counter)
    refused_probes: int = 0

    def statuses(self, label: str) -> Counter[int]:
        return self.by_operation.get(label, Counter())

    def record(self, label: str, status: int, *, linked: bool) -> None:
        self.by_operation.setdefault(label, Counter())[status] += 1
        if linked and (200 <= status < 300 or status == 409):
            # a 2xx, or a 409 on the resource's own state (a step the workflow no longer
            # allows: submitting a withdrawn proposal): either way the link gave an id that
            # exists, which a made-up one never is (404)
            self.linked[label] += 1


@dataclass(frozen=True)
class Seed:
    """A call each stateful scenario starts with, the document's links going on from what it
    creates: an operation (`POST /v1/proposals`), its path parameters and JSON body, or
    functions making them from the bodies the seeds before it were answered with. Random
    data seldom makes a resource that the domain accepts (a real region, a payload of the
    proposal's type, a valid IIN); a seed makes one, and the links reach every state from it."""

    operation: str
    body: Any = None
    path: Mapping[str, str] | Callable[[Sequence[Any]], Mapping[str, str]] = field(
        default_factory=dict
    )

    def made(self, earlier: Sequence[Any]) -> tuple[dict[str, str], Any]:
        """The path parameters and the body, given the bodies of the seeds before it."""
        path = self.path(earlier) if callable(self.path) else self.path
        return dict(path), self.body(earlier) if callable(self.body) else self.body


Headers = Mapping[str, str]
HeadersFor = Callable[[str], Headers]
"""The headers of a stateful step, by its operation (`POST /v1/proposals/{proposal_id}/review`):
where one operation takes an akimat's token and the next the ministry's."""


def fuzz_stateful(
    app: FastAPI,
    *,
    headers: Headers | HeadersFor,
    reset: Reset,
    seeds: Sequence[Seed] = (),
    refused: Sequence[Refused] = (),
    scenarios: int,
    steps: int,
    follow: Sequence[str] = (),
) -> Answers:
    """`scenarios` sequences of up to `steps` calls following the document's links, with
    `headers` (or `headers(operation)`); each linked step first with every one of `refused`
    (see the module doc).

    `follow` names operations the links must reach (each `Answers.linked` at least once).
    The run is seeded, so it explores one way, and any change to the service's document or
    code can change which way: while an operation of `follow` is not reached, the run is
    made again with twice the scenarios, up to `FOLLOW_ROUNDS` times as many (the answers
    are the last run's)."""
    document = app.openapi()
    assert not broken_links(document), broken_links(document)
    schema: Any = schemathesis.openapi.from_asgi("/openapi.json", app)
    # valid data only: a chain goes on from what was created (the stateless runs send the
    # invalid data, to every operation)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    chosen = headers if callable(headers) else (lambda _: headers)
    budget = scenarios
    while True:
        answers = Answers()
        with _client(app) as client:
            machine = _machine(schema.as_state_machine(), client, chosen, refused, answers, reset)
            if seeds:
                machine = _seeded(machine, schema, seeds)
            machine.run(
                settings=settings(max_examples=budget, stateful_step_count=steps, **_SETTINGS)
            )
        if all(answers.linked[label] for label in follow) or budget >= scenarios * FOLLOW_ROUNDS:
            return answers
        budget *= 2


FOLLOW_ROUNDS = 8  # `fuzz_stateful` explores up to this many times the scenarios asked for


def _probe_headers(case: Any, refused: Refused) -> dict[str, str]:
    """A refused token's headers for `case`; under an Idempotency-Key of its own when the
    case has one, since the generated key may be one this caller already used for another
    request (a 422 then, rightly, where the probe is about the token)."""
    headers = dict(refused.headers)
    if any(name.lower() == "idempotency-key" for name in case.headers or {}):
        headers["Idempotency-Key"] = f"probe-{uuid.uuid4()}"
    return headers


def _machine(
    base: Any,
    client: object,
    headers: HeadersFor,
    refused: Sequence[Refused],
    answers: Answers,
    reset: Reset,
) -> Any:
    probes = [(each, [*CHECKS, _answered_with(each, None)]) for each in refused]

    class Machine(base):  # type: ignore[misc]
        def setup(self) -> None:
            reset()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": dict(headers(_label(case))), "session": client}

        def call(self, case: Any, **kwargs: Any) -> Any:
            label = _label(case)
            linked = self.recorder.find_parent(case_id=case.id) is not None
            invalid: list[tuple[Refused, Any]] = []
            for each, checks in probes if linked else ():
                if not each.applies(label):
                    continue
                bad = case.call(headers=_probe_headers(case, each), session=client)
                answers.refused_probes += 1
                if each.invalid_first and bad.status_code in _INPUT_ERRORS:
                    invalid.append((each, bad))  # judged by the right token's answer
                    continue
                case.validate_response(bad, checks=checks, headers=dict(each.headers))
            response = case.call(**kwargs)
            answers.record(label, response.status_code, linked=linked)
            for each, bad in invalid:
                assert response.status_code == bad.status_code, (
                    f"{label} with a token {each.name}: {bad.status_code}, the right token's"
                    f" {response.status_code}: {bad.text[:300]}"
                )
                case.validate_response(bad, checks=CHECKS, headers=dict(each.headers))
            return response

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                checks=STATEFUL_CHECKS,
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    return Machine


def _seeded(machine: Any, schema: Any, seeds: Sequence[Seed]) -> Any:
    class Seeded(machine):  # type: ignore[misc]
        @initialize()
        def seed(self) -> None:
            earlier: list[Any] = []
            for each in seeds:
                operation = schema.find_operation_by_label(each.operation)
                assert operation is not None, each.operation
                path, body = each.made(earlier)
                case = operation.Case(
                    path_parameters=path, body=body, media_type="application/json"
                )
                self.recorder.record_case(case=case)
                kwargs = self.get_call_kwargs(case)
                response = self.call(case, **kwargs)
                self.after_call(response, case)
                self.validate_response(response, case, **kwargs)
                assert 200 <= response.status_code < 300, (each, response.text[:300])
                earlier.append(response.json())
                self._add_results_to_targets(("seed",), [StepOutput(response, case)])

    return Seeded


# --- shared ---------------------------------------------------------------------------------


def _operations(app: FastAPI, expected: int) -> list[Any]:
    schema: Any = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.checks.negative_data_rejection.expected_statuses = _REFUSALS
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) == expected, [f"{o.method} {o.path}" for o in found]
    return found


def _client(app: FastAPI) -> Any:
    asgi_app: Any = app
    return asgi.get_client(asgi_app)


def _fuzz(
    strategy: st.SearchStrategy[Any],
    client: object,
    headers: dict[str, str],
    checks: list[Any],
    examples: int,
) -> None:
    @given(case=strategy)
    @settings(max_examples=examples, **_SETTINGS)
    def run(case: Any) -> None:
        case.call_and_validate(session=client, headers=headers, checks=checks)

    run()


def _answered_with(refused: Refused, seen: Counter[int] | None) -> Any:
    def refused_as_documented(ctx: Any, response: Any, case: Any) -> bool:
        if seen is not None:
            seen[response.status_code] += 1
        # a negative case may be sent without the Authorization header at all
        sent = "authorization" in {name.lower() for name in response.request.headers}
        expected = refused.statuses if sent else {401}
        if response.status_code not in expected and not _unparsable_body(case, response):
            raise AssertionError(
                f"{_label(case)} with a token {refused.name}: {response.status_code}, not"
                f" {sorted(expected)}: {response.text[:300]}"
            )
        return True

    return refused_as_documented


# what is read before the route's dependencies verify the token: the Idempotency-Key (by
# the middleware, before routing), the body's bytes (FastAPI decodes them first)
_READ_BEFORE_THE_TOKEN = {
    ParameterLocation.BODY: "body",
    ParameterLocation.HEADER: "Idempotency-Key",
}


def _unparsable_body(case: Any, response: Any) -> bool:
    """A negative case refused 422 for what is read before the token: a body that is no
    JSON at all, an Idempotency-Key that is no key. A body that is JSON but invalid, or a
    bad query parameter, is refused for the token first."""
    if case.meta is None or response.status_code != 422:
        return False
    errors = response.json().get("errors") or [{}]
    return any(
        case.meta.is_negative_at(location) and all(e.get("field") == name for e in errors)
        for location, name in _READ_BEFORE_THE_TOKEN.items()
    )


def _label(case_or_operation: Any) -> str:
    """`POST /v1/quotas`, of a case or of an operation."""
    operation = getattr(case_or_operation, "operation", case_or_operation)
    return f"{operation.method.upper()} {operation.path}"


def _claims(now: datetime, scopes: Sequence[str]) -> dict[str, Any]:
    return {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": "fuzz",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=10)).timestamp()),
        "scope": " ".join(scopes),
        "region": "*",
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
