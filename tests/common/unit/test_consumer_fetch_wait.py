"""How long the broker may hold a worker's fetch that finds nothing (`<P>KAFKA_FETCH_MAX_WAIT_MS`,
100 ms by default): every service's worker consumer is built with it.

A consumer has one fetch in flight per broker, for the partitions none of whose records are
buffered. With the busy partitions' records buffered, that fetch can cover idle partitions
only (monitoring's worker reads proposals.v1 too, mostly idle), and records arriving at the
busy partitions wait until the broker answers it: at the Kafka client's 500 ms default, that
was 235 ms at p50 on monitoring's projections in bench/e2e_latency.py. What it costs and
saves is measured there; here, that the setting reaches the consumer the worker runs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from koshiqon.common.consumer import ConsumerRunner
from koshiqon.common.service import ServiceDefinition, consumer_config
from koshiqon.common.settings import ServiceSettings
from koshiqon.monitoring.entrypoints.cli import SERVICE as MONITORING
from koshiqon.proposals.entrypoints.cli import SERVICE as PROPOSALS
from koshiqon.quota.entrypoints.cli import SERVICE as QUOTA
from koshiqon.registration.entrypoints.cli import SERVICE as REGISTRATION

SERVICES = [REGISTRATION, QUOTA, PROPOSALS, MONITORING]


def runners(components: Any) -> list[ConsumerRunner]:
    """The consumer runners among a worker's components (their bound `run`)."""
    owners = (getattr(component, "__self__", None) for component in components)
    return [owner for owner in owners if isinstance(owner, ConsumerRunner)]


def test_the_default_is_well_below_the_kafka_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "test")
    assert consumer_config(ServiceSettings()).fetch_max_wait_ms == 100


def test_the_setting_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "test")
    monkeypatch.setenv("KOSHIQON_KAFKA_FETCH_MAX_WAIT_MS", "0")
    with pytest.raises(ValidationError, match="kafka_fetch_max_wait_ms"):
        ServiceSettings()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
async def test_every_worker_consumer_fetches_with_the_setting(
    service: ServiceDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOSHIQON_ENV", "test")
    monkeypatch.setenv(f"{service.name.upper()}_KAFKA_FETCH_MAX_WAIT_MS", "37")
    settings = service.settings()
    async with service.worker(settings) as worker:  # builds, connects to nothing
        found = runners(worker)
        assert found, f"{service.name}'s worker has no consumer"
        for runner in found:
            assert runner.config.fetch_max_wait_ms == 37
            # the client the runner starts: aiokafka keeps the value as it was given
            assert runner._new_consumer()._fetch_max_wait_ms == 37
