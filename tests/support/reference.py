"""The project's reference data: public figures kept under `data/` at the repository root
(each file's source and checks are in `data/README.md`), so a fresh clone needs nothing
beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def reference_file(name: str) -> Path:
    """The path of one file under `data/`; a missing one fails loudly, with where it looked."""
    path = DATA / name
    if not path.is_file():
        raise FileNotFoundError(f"no reference data file {path} (see data/README.md)")
    return path


def quota_order_2026() -> Path:
    """The 2026 regional quotas for kandases and migrants (sums 2,281 and 5,997)."""
    return reference_file("quotas_2026.csv")
