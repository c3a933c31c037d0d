"""`koshiqon-proposals api|worker|migrate|all` (default port 8003)."""

from __future__ import annotations

from koshiqon.common.service import ServiceDefinition, run
from koshiqon.proposals.bootstrap import MIGRATIONS, build_app, build_worker
from koshiqon.proposals.config import ProposalsSettings

# name, settings, app, worker, migrations
SERVICE = ServiceDefinition("proposals", ProposalsSettings, build_app, build_worker, MIGRATIONS)


def main() -> None:
    raise SystemExit(run(SERVICE))


if __name__ == "__main__":
    main()
