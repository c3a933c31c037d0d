"""Which local Kafka and PostgreSQL: where they keep their state and on which ports.

`Instance.default()` is the one `koshiqon infra up` runs (the state dir, `KOSHIQON_KAFKA_PORT`
and `KOSHIQON_PG_PORT`, as before). `Instance.private(state, base_port)` is a second pair
beside it, for a run that kills and restarts its broker and database (the chaos harness)
while other runs keep using the default pair: its own data under `state`, Kafka on
`base_port` (its controller on `base_port + 1`), PostgreSQL on `base_port + 2`, and the
broker's jars shared with the default instance (resolved once, read only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from koshiqon.common import settings
from koshiqon.devtools.paths import state_dir

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "koshiqon-dev"
DATABASE = "koshiqon"


@dataclass(frozen=True)
class Instance:
    state: Path
    kafka_port: int
    pg_port: int
    # the broker's jars, when another instance's (None: `<state>/kafka/libs`)
    kafka_libs: Path | None = None
    private: bool = False

    @classmethod
    def default(cls) -> Instance:
        return cls(state_dir(), settings.LOCAL_KAFKA_PORT, settings.LOCAL_PG_PORT)

    @classmethod
    def of_private(cls, state: Path, base_port: int) -> Instance:
        if not 1024 <= base_port <= 65533:
            raise ValueError(f"base port {base_port}: it and the next two must be 1024..65535")
        default = cls.default()
        taken = {default.kafka_port, default.controller_port, default.pg_port}
        if taken & set(range(base_port, base_port + 3)):
            raise ValueError(f"base port {base_port}: its ports overlap the default instance's")
        if state.resolve() == default.state.resolve():
            raise ValueError(f"{state} is the default instance's state dir")
        return cls(
            state.resolve(),
            kafka_port=base_port,
            pg_port=base_port + 2,
            kafka_libs=default.state / "kafka" / "libs",
            private=True,
        )

    @property
    def controller_port(self) -> int:
        return self.kafka_port + 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def superuser_dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{self.pg_port}/{database}"

    def admin_dsn(self) -> str:
        """The DSN services and tests bootstrap roles with: `DATABASE_URL` (or the default)
        for the default instance, the private server's own database otherwise."""
        return self.superuser_dsn(DATABASE) if self.private else settings.admin_dsn()

    def environment(self) -> dict[str, str]:
        """The variables that point a process (a service, a test run) at this instance."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "DATABASE_URL": self.admin_dsn()}
