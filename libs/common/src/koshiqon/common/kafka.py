"""Kafka client settings shared by the outbox relay, the consumer runner, DLQ replay and the
benchmarks, so that a baseline measures exactly what production runs."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer


def producer_settings(bootstrap: str, *, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        # idempotence implies acks=all and one in-flight batch per partition: no duplicates
        # from producer retries and per-partition order holds
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 512 * 1024,
        "max_request_size": 4 * 1024 * 1024,
        "compression_type": None,
        "request_timeout_ms": 30_000,
        "retry_backoff_ms": 200,
    }


def new_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(**producer_settings(bootstrap, client_id=client_id))
