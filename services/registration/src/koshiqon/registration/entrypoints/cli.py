"""`koshiqon-registration api|worker|migrate|all`."""

from __future__ import annotations

from koshiqon.common.service import ServiceDefinition, run
from koshiqon.registration.bootstrap import MIGRATIONS, build_app, build_worker
from koshiqon.registration.config import RegistrationSettings

# name, settings, app, worker, migrations
SERVICE = ServiceDefinition(
    "registration", RegistrationSettings, build_app, build_worker, MIGRATIONS
)


def main() -> None:
    raise SystemExit(run(SERVICE))


if __name__ == "__main__":
    main()
