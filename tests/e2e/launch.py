"""`python -m e2e.launch <service> api|worker [group]`: one role of a service as its pod runs
it (`koshiqon-<service> api|worker`), the worker's consumers in `group` rather than the
service's own group, so that a test's services on a shared broker take only its events."""

from __future__ import annotations

import functools
import importlib
import sys

from koshiqon.common.service import ServiceDefinition, run


def main(argv: list[str]) -> int:
    name, role, *rest = argv
    service: ServiceDefinition = importlib.import_module(f"koshiqon.{name}.entrypoints.cli").SERVICE  # type: ignore[type-arg]
    if rest:
        worker = functools.partial(service.worker, group=rest[0])  # type: ignore[call-arg]
        service = ServiceDefinition(
            service.name, service.settings, service.build_app, worker, service.migrations
        )
    return run(service, [role])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
