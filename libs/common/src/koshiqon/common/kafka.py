"""Kafka client settings shared by the outbox relay, the consumer runner, DLQ replay and the
benchmarks, so that a baseline measures exactly what production runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from koshiqon.common.settings import KafkaSecurity

log = logging.getLogger("koshiqon.kafka")


def security_settings(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """The options every Kafka client (producer, consumer, admin, readiness probe) takes to
    reach the brokers: protocol, TLS trust, SASL credentials (`KafkaSecurity`, by default
    read from the `KAFKA_*` variables now)."""
    security = security or KafkaSecurity()
    options: dict[str, Any] = {"security_protocol": security.security_protocol}
    if security.uses_tls:
        cafile = str(security.ssl_cafile) if security.ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    if security.uses_sasl:
        assert security.sasl_password is not None  # the settings refuse SASL without it
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.sasl_username
        options["sasl_plain_password"] = security.sasl_password.get_secret_value()
    return options


def producer_settings(bootstrap: str, *, client_id: str) -> dict[str, Any]:
    return {
        **security_settings(),
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


async def stop_producer(producer: AIOKafkaProducer, *, grace: float) -> None:
    """Stop `producer` for good. stop() first flushes what is pending, so a wedged producer's
    stop() never ends, and cancelling it (wait_for) leaves the sender task running and the
    connections open. When stop() has not finished within `grace` seconds, cancel the sender task
    and close the client's connections ourselves; records still pending are abandoned (the
    outbox sends them again)."""
    try:
        await asyncio.wait_for(producer.stop(), timeout=grace)
        return
    except Exception as exc:  # TimeoutError, or whatever a broken producer raises
        log.warning("kafka.producer-stop-forced", extra={"error": repr(exc)})
    sender = getattr(producer, "_sender", None)
    task: asyncio.Task[Any] | None = getattr(sender, "sender_task", None)
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=grace)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.client.close(), timeout=grace)
