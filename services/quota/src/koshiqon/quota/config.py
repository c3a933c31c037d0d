"""Settings of the quota service (prefix `QUOTA_`, see README "Environment variables")."""

from __future__ import annotations

from pydantic import Field

from koshiqon.common.settings import ServiceSettings, service_config


class QuotaSettings(ServiceSettings):
    model_config = service_config("QUOTA_")

    service_name: str = "quota"
    http_port: int = Field(default=8002, ge=1, le=65535)
    expiry_interval_seconds: float = Field(
        default=3600.0, gt=0, description="how often the worker expires unused reservations"
    )
