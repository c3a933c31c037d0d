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
    pending_quota_after_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="an application pending_quota this long since its quota was last asked"
        " is asked again",
    )
    pending_quota_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often the worker looks for such applications"
    )
    pending_quota_batch_size: int = Field(
        default=100, ge=1, le=10_000, description="applications asked again per run, at most"
    )
