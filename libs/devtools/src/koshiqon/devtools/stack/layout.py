"""What the stack runs: the eight processes (api and worker of each service), their ports,
their environment, and where the stack keeps its state (pid, state file, logs)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from koshiqon.devtools.paths import state_dir

SERVICES = ("registration", "quota", "proposals", "monitoring")
ROLES = ("api", "worker")
STANDARD_BASE = 8000
PROBE_OFFSET = 1000  # a worker's probes: its service's HTTP port + 1000 (service.py)
GROUPS: dict[str, tuple[str, ...]] = {
    # each worker's consumer group (its entrypoints/consumer.py GROUP) and what it reads
    "registration": ("quota.v1",),
    "quota": ("registration.v1", "proposals.v1"),
    "proposals": ("quota.v1", "monitoring.v1"),
    "monitoring": ("registration.v1", "quota.v1", "proposals.v1"),
}


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised process: `koshiqon-<service> <role>` with its environment."""

    service: str
    role: str
    port: int  # the API's HTTP port, or the worker's probe port
    env: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] | None = None  # instead of koshiqon-<service> <role>

    @property
    def name(self) -> str:
        return f"{self.service}-{self.role}"

    @property
    def argv(self) -> list[str]:
        return list(self.command or (f"koshiqon-{self.service}", self.role))

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/readyz"


@dataclass(frozen=True)
class StackPaths:
    """Everything the stack writes, under one folder (`.local/stack` by default)."""

    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def supervisor_log(self) -> Path:
        return self.logs / "supervisor.log"

    @property
    def demo_marker(self) -> Path:
        return self.root / "demo.json"

    @property
    def infra_marker(self) -> Path:
        """Present when this stack's `up` started the infrastructure (`down` stops it)."""
        return self.root / "infra-started"

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def default_paths() -> StackPaths:
    return StackPaths(state_dir() / "stack")


def api_port(service: str, base: int = STANDARD_BASE) -> int:
    return base + 1 + SERVICES.index(service)


def new_client_secret() -> str:
    return secrets.token_urlsafe(24)


def process_specs(
    *, base: int = STANDARD_BASE, token_url: str, client_secret: str
) -> list[ProcessSpec]:
    """The eight processes, api before worker for each service. Ports other than the
    standard ones (base 8000: 8001-8004, probes 9001-9004) go to each process through its
    service's variables; proposals asks the supervisor's token endpoint for its
    `monitoring:read` token (client credentials), as it would ask an identity provider."""
    specs: list[ProcessSpec] = []
    monitoring = f"http://127.0.0.1:{api_port('monitoring', base)}"
    for service in SERVICES:
        prefix = service.upper() + "_"
        port = api_port(service, base)
        env = {
            f"{prefix}HTTP_PORT": str(port),
            f"{prefix}WORKER_PROBE_PORT": str(port + PROBE_OFFSET),
        }
        if service == "proposals":
            env |= {
                "PROPOSALS_MONITORING_URL": monitoring,
                "PROPOSALS_MONITORING_TOKEN_URL": token_url,
                "PROPOSALS_MONITORING_CLIENT_ID": "koshiqon-proposals",
                "PROPOSALS_MONITORING_CLIENT_SECRET": client_secret,
            }
        specs.append(ProcessSpec(service, "api", port, env))
        specs.append(ProcessSpec(service, "worker", port + PROBE_OFFSET, env))
    return specs


def child_environment(spec: ProcessSpec) -> dict[str, str]:
    """The supervisor's environment (KOSHIQON_ENV, DATABASE_URL, KAFKA_* ...) and the
    process's own variables; a fixed PROPOSALS_MONITORING_TOKEN would clash with the
    client-credentials settings, so it is dropped."""
    env = dict(os.environ)
    env.pop("PROPOSALS_MONITORING_TOKEN", None)
    env.setdefault("KOSHIQON_ENV", "dev")
    env.update(spec.env)
    return env
