"""Settings of the proposals service (prefix `PROPOSALS_`, see README "Environment variables")."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from koshiqon.common.settings import ServiceSettings, service_config


class ProposalsSettings(ServiceSettings):
    model_config = service_config("PROPOSALS_")

    service_name: str = "proposals"
    http_port: int = Field(default=8003, ge=1, le=65535)
    review_deadline_days: float = Field(
        default=30.0, gt=0, le=365, description="a submitted proposal is overdue after this"
    )
    stuck_after_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="an approved proposal with no answer from quota after this is stuck",
    )
    monitoring_url: str = Field(
        default="http://127.0.0.1:8004", description="the monitoring API, for evidence"
    )
    monitoring_token: SecretStr | None = Field(
        default=None,
        description="a fixed bearer token for the monitoring API (development: tokens live an "
        "hour at most); in production the client-credentials grant below",
    )
    monitoring_token_url: str | None = Field(
        default=None,
        description="the identity provider's token endpoint: proposals asks it for a "
        "`monitoring:read` token (client credentials) and renews it before it expires",
    )
    monitoring_client_id: str | None = None
    monitoring_client_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _one_way_to_monitoring(self) -> Self:
        if self.monitoring_token_url is not None:
            if self.monitoring_client_id is None or self.monitoring_client_secret is None:
                raise ValueError(
                    "PROPOSALS_MONITORING_TOKEN_URL needs PROPOSALS_MONITORING_CLIENT_ID and "
                    "PROPOSALS_MONITORING_CLIENT_SECRET"
                )
            if self.monitoring_token is not None:
                raise ValueError(
                    "give PROPOSALS_MONITORING_TOKEN or PROPOSALS_MONITORING_TOKEN_URL, not both"
                )
        return self

    evidence_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    evidence_retries: int = Field(default=2, ge=0, le=10)
    evidence_backoff_seconds: float = Field(default=0.25, ge=0, le=10)
    worker_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often the worker retries pending evidence and re-publishes stuck "
        "approvals",
    )
