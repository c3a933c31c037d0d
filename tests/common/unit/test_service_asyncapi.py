"""Every service serves `/asyncapi.json` (koshiqon.common.http.asyncapi): its own topic's
channel, operation and messages, the same as in the committed `contracts/asyncapi.json`, and
the payload schemas its references name, the same as the committed `contracts/events` files.
The real apps of the four services (their `build_app`), over ASGI; nothing here opens a
database connection or a broker connection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from fastapi import FastAPI

from koshiqon.common.events import asyncapi
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.topics import CONTEXT_TOPICS

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
BASE = "http://service"


def _registration() -> FastAPI:
    from koshiqon.registration.bootstrap import build_app
    from koshiqon.registration.config import RegistrationSettings

    return build_app(RegistrationSettings(environment="test"))


def _quota() -> FastAPI:
    from koshiqon.quota.bootstrap import build_app
    from koshiqon.quota.config import QuotaSettings

    return build_app(QuotaSettings(environment="test"))


def _proposals() -> FastAPI:
    from koshiqon.proposals.bootstrap import build_app
    from koshiqon.proposals.config import ProposalsSettings

    return build_app(ProposalsSettings(environment="test"))


def _monitoring() -> FastAPI:
    from koshiqon.monitoring.bootstrap import build_app
    from koshiqon.monitoring.config import MonitoringSettings

    return build_app(MonitoringSettings(environment="test"))


SERVICES: dict[str, tuple[str, Callable[[], FastAPI]]] = {
    "registration": ("registration.v1", _registration),
    "quota": ("quota.v1", _quota),
    "proposals": ("proposals.v1", _proposals),
    "monitoring": ("monitoring.v1", _monitoring),
}


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CONTRACTS / "asyncapi.json").read_text())
    return document


def refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


def test_the_committed_document_covers_the_four_topics(committed: dict[str, Any]) -> None:
    assert set(committed["channels"]) == {topic for topic, _ in SERVICES.values()}
    assert {spec.name for spec in CONTEXT_TOPICS} == set(committed["channels"])
    for topic in committed["channels"]:
        assert committed["channels"][topic]["messages"], f"{topic} has no message"


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_the_service_serves_its_topic_as_committed(
    service: str, committed: dict[str, Any]
) -> None:
    topic, build = SERVICES[service]
    async with client(build()) as http:
        response = await http.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served = response.json()

    assert served["asyncapi"] == committed["asyncapi"]
    assert served["info"] == committed["info"]
    assert list(served["channels"]) == [topic]
    assert served["channels"][topic] == committed["channels"][topic]
    assert served["operations"] == {f"receive-{topic}": committed["operations"][f"receive-{topic}"]}
    own = {name for name, msg in committed["components"]["messages"].items() if name in
           committed["channels"][topic]["messages"]}  # fmt: skip
    assert own, f"{topic} carries no message in contracts/asyncapi.json"
    assert set(served["components"]["messages"]) == own
    for name in own:
        assert served["components"]["messages"][name] == committed["components"]["messages"][name]
    assert served["components"]["schemas"] == committed["components"]["schemas"]


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_payload_reference_resolves_on_the_service(service: str) -> None:
    topic, build = SERVICES[service]
    async with client(build()) as http:
        document = (await http.get("/asyncapi.json")).json()
        external = sorted({ref for ref in refs(document) if not ref.startswith("#")})
        assert external
        for ref in external:
            assert ref.startswith(f"events/{topic}/"), ref
            response = await http.get(urljoin(f"{BASE}/asyncapi.json", ref))
            assert response.status_code == 200, ref
            assert response.headers["content-type"].startswith("application/schema+json")
            assert response.text == (CONTRACTS / ref).read_text(encoding="utf-8")


async def test_another_topics_schema_or_an_unknown_one_is_a_404_problem() -> None:
    async with client(_quota()) as http:
        foreign = "/events/registration.v1/kz.migration.registration.person-moved.v1.json"
        unknown = "/events/quota.v1/kz.migration.quota.no-such-event.v1.json"
        for path in (foreign, unknown, "/events/quota.v1/kz.migration.quota.quota-reserved.v1"):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"


async def test_an_app_that_is_no_service_has_no_asyncapi_route() -> None:
    from koshiqon.common.http.app import create_app

    app = create_app(ServiceSettings(environment="test"), title="t", version="0", routers=[])
    async with client(app) as http:
        assert (await http.get("/asyncapi.json")).status_code == 404


def test_the_routes_are_not_in_the_openapi_document() -> None:
    paths = _registration().openapi()["paths"]
    assert "/asyncapi.json" not in paths
    assert not [path for path in paths if path.startswith("/" + asyncapi.SCHEMAS_DIRECTORY)]
