"""Settings of the monitoring service (prefix `MONITORING_`, see README "Environment
variables")."""

from __future__ import annotations

from pydantic import Field

from koshiqon.common.settings import ServiceSettings, service_config
from koshiqon.monitoring.domain.demand import Norms

DEFAULT_TOPICS = ("registration.v1", "quota.v1", "proposals.v1")


class MonitoringSettings(ServiceSettings):
    model_config = service_config("MONITORING_")

    service_name: str = "monitoring"
    http_port: int = Field(default=8004, ge=1, le=65535)
    topics: tuple[str, ...] = Field(
        default=DEFAULT_TOPICS,
        min_length=1,
        description="the topics projected (and replayed by rebuild)",
    )
    alert_interval_seconds: float = Field(
        default=3600.0, gt=0, description="how often the worker re-evaluates the §8 rule"
    )
    rebuild_batch_size: int = Field(default=2000, ge=1, le=100_000)
    consumer_transaction_batch: int = Field(
        default=200,
        ge=1,
        le=2000,
        description="records of a partition the worker projects in one transaction, and of "
        "a whole poll when it brings no more (ConsumerConfig.transaction_batch; 1: one "
        "transaction per event)",
    )
    consumer_max_records: int = Field(
        default=2000,
        ge=1,
        le=10_000,
        description="records one poll of the worker's consumer returns at most, over all its "
        "partitions (ConsumerConfig.max_records): a chunk is a partition's share of a poll",
    )
    forecast_school_places_per_child: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description="§9 demand: school places per child aged 6-17 (docs/forecast.md: one place "
        "for every child of school age, taught in one shift)",
    )
    forecast_kindergarten_places_per_child: float = Field(
        default=0.85,
        ge=0,
        le=10,
        description="§9 demand: kindergarten places per child aged 1-5 (docs/forecast.md: the "
        "planning norm of 85 % coverage)",
    )
    forecast_primary_care_per_10000: float = Field(
        default=181.5,
        ge=0,
        le=10_000,
        description="§9 demand: primary-care capacity, visits per shift per 10,000 population "
        "(docs/forecast.md: the planning norm of 18.15 per 1,000)",
    )

    def forecast_norms(self) -> Norms:
        return Norms(
            school_places_per_child=self.forecast_school_places_per_child,
            kindergarten_places_per_child=self.forecast_kindergarten_places_per_child,
            primary_care_per_10000=self.forecast_primary_care_per_10000,
        )
