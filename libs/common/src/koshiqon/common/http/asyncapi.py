"""`/asyncapi.json`: the AsyncAPI document of the one topic a service publishes.

The same generator as `contracts/asyncapi.json` (`koshiqon.common.events.asyncapi`), narrowed
to the service's own topic (`registration` publishes `registration.v1`...): its channel, its
receive operation and its messages, equal to those of the committed document. A message's
`data` refers to its payload schema by the committed document's relative path
(`events/<topic>/<type>.json`); relative to `/asyncapi.json` that is `/events/<topic>/<type>.json`,
served here too from the same export (`koshiqon.common.events.schemas.render`), so a tool
reading the service's document resolves every reference. Neither is in the OpenAPI document;
both are public, like `/openapi.json`.
"""

from __future__ import annotations

import json
from functools import cache

from fastapi import APIRouter
from starlette.responses import Response

from koshiqon.common.errors import NotFound
from koshiqon.common.events import asyncapi, schemas
from koshiqon.common.events.contracts import (
    REGISTRY,
    TOPICS,
    EventContract,
    Registry,
    load_all_contracts,
)
from koshiqon.common.topics import CONTEXT_TOPICS

ASYNCAPI_PATH = "/asyncapi.json"
SCHEMAS_PATH = f"/{asyncapi.SCHEMAS_DIRECTORY}"
_CACHE = {"Cache-Control": "public, max-age=300"}


def asyncapi_router(context: str) -> APIRouter | None:
    """The two routes for a service of `context`; None when the context publishes no topic
    (an app that is not one of the services)."""
    topic = TOPICS.get(context)
    if topic is None:
        return None
    router = APIRouter(include_in_schema=False)

    async def document() -> Response:
        return Response(_rendered(topic), media_type="application/json", headers=_CACHE)

    async def payload_schema(topic_name: str, file_name: str) -> Response:
        contract = _contracts(topic).get(file_name.removesuffix(".json"))
        if topic_name != topic or contract is None or not file_name.endswith(".json"):
            raise NotFound(f"no event schema {topic_name}/{file_name} on this service")
        return Response(schemas.render(contract), media_type="application/schema+json")

    router.add_api_route(ASYNCAPI_PATH, document, methods=["GET"])
    router.add_api_route(
        SCHEMAS_PATH + "/{topic_name}/{file_name}", payload_schema, methods=["GET"]
    )
    return router


def topic_document(topic: str) -> asyncapi.Document:
    """The AsyncAPI document of `topic` alone, from the real contracts."""
    specs = [spec for spec in CONTEXT_TOPICS if spec.name == topic]
    return asyncapi.document(_registry(topic), specs)


@cache
def _rendered(topic: str) -> str:
    document = topic_document(topic)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@cache
def _contracts(topic: str) -> dict[str, EventContract]:
    return {contract.type: contract for contract in _registry(topic)}


def _registry(topic: str) -> Registry:
    """The real contracts of `topic` (not a test's `selftest` ones)."""
    load_all_contracts()
    registry = Registry()
    for contract in REGISTRY:
        if contract.topic == topic:
            registry.register(contract)
    return registry
