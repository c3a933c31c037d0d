"""`koshiqon-quota api|worker|migrate|all` (default port 8002)."""

from __future__ import annotations

from koshiqon.common.service import ServiceDefinition, run
from koshiqon.quota.bootstrap import MIGRATIONS, build_app, build_worker
from koshiqon.quota.config import QuotaSettings

# name, settings, app, worker, migrations
SERVICE = ServiceDefinition("quota", QuotaSettings, build_app, build_worker, MIGRATIONS)


def main() -> None:
    raise SystemExit(run(SERVICE))


if __name__ == "__main__":
    main()
