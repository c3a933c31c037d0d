"""Settings of the proposals service (prefix `PROPOSALS_`, see README "Environment variables")."""

from __future__ import annotations

from pydantic import Field, SecretStr

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
        default=None, description="a bearer token for the monitoring API, when it needs one"
    )
    evidence_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    evidence_retries: int = Field(default=2, ge=0, le=10)
    evidence_backoff_seconds: float = Field(default=0.25, ge=0, le=10)
    worker_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often the worker retries pending evidence and re-publishes stuck "
        "approvals",
    )
