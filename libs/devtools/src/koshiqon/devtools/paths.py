"""Where the project's local state lives: data, logs, the development signing key."""

from __future__ import annotations

import os
from pathlib import Path

MARKER = Path("deploy") / "local" / "kafka" / "pom.xml"


def project_root() -> Path:
    """The checkout this process runs in: `KOSHIQON_HOME`, else the nearest parent of the
    working directory that holds deploy/local/kafka/pom.xml."""
    if home := os.environ.get("KOSHIQON_HOME"):
        return Path(home).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / MARKER).is_file():
            return candidate
    raise RuntimeError(
        "cannot find the Koshi-qon checkout: run from inside it or set KOSHIQON_HOME"
    )


def state_dir() -> Path:
    """Git-ignored local state: `KOSHIQON_STATE_DIR`, else `<project root>/.local`."""
    if state := os.environ.get("KOSHIQON_STATE_DIR"):
        return Path(state).resolve()
    return project_root() / ".local"
