"""`Idempotency-Key` on POST: a repeated request gets the first response again.

What a key promises and how it is kept is in docs/idempotency.md. The layer needs
`app.state.sessions` (sessions in the service's schema, where `idempotency_keys` exists;
`create_app` sets it), and a unit of work that commits with `commit_effect` and calls
`settle_held` before it begins. The modules: `store` (the table), `middleware` (the ASGI
layer), `held` (the transaction held until the response is complete), `openapi` (the
documentation).
"""

from koshiqon.common.http.idempotency.held import (
    commit_effect,
    effect_is_idempotent,
    keyed_request,
    record_effect,
    settle_held,
)
from koshiqon.common.http.idempotency.middleware import IdempotencyMiddleware
from koshiqon.common.http.idempotency.openapi import idempotency_openapi
from koshiqon.common.http.idempotency.store import purge_expired_keys

__all__ = [
    "IdempotencyMiddleware",
    "commit_effect",
    "effect_is_idempotent",
    "idempotency_openapi",
    "keyed_request",
    "purge_expired_keys",
    "record_effect",
    "settle_held",
]
