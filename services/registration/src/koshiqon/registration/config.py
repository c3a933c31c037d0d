"""Settings of the registration service (env prefix `REGISTRATION_`)."""

from __future__ import annotations

from pydantic import Field

from koshiqon.common.settings import ServiceSettings, service_config


class RegistrationSettings(ServiceSettings):
    model_config = service_config("REGISTRATION_")

    service_name: str = "registration"
    http_port: int = Field(default=8001, ge=1, le=65535)
    expiry_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often the worker ends expired temporary stays"
    )
    expiry_batch_size: int = Field(default=500, ge=1, le=10_000)
