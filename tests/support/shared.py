"""The workplace's shared reference data (public figures the tests check against): the
`shared/` folder beside the checkout, or `KOSHIQON_SHARED_DIR`."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    directory = Path(os.environ.get("KOSHIQON_SHARED_DIR", ROOT.parent / "shared"))
    if not (directory / "data").is_dir():
        raise FileNotFoundError(
            f"no shared reference data in {directory}: put the workplace's shared/ beside the "
            "checkout or set KOSHIQON_SHARED_DIR"
        )
    return directory


def quota_order_2026() -> Path:
    """The 2026 regional quotas for kandases and migrants (sums 2,281 and 5,997)."""
    return shared_dir() / "data" / "quotas_2026.csv"
