"""The statistical inputs: the current figure of each key and the history of those it
replaced, each with its source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from koshiqon.monitoring.adapters.repository.sql import SqlRepository, dumps, loads, one, run
from koshiqon.monitoring.domain.statistics import Figure, Figures, Key

KEY = (
    "dataset = :dataset AND kato = :kato AND variant = :variant AND period_from = :period_from "
    "AND period_to = :period_to"
)


@dataclass(frozen=True)
class Current:
    figures: Figures
    source: str
    loaded_at: datetime


def _key(key: Key) -> dict[str, object]:
    return {
        "dataset": key.dataset.value,
        "kato": key.kato,
        "variant": key.variant,
        "period_from": key.period_from,
        "period_to": key.period_to,
    }


class SqlStatisticsRepository(SqlRepository):
    async def lock_dataset(self, dataset: str) -> None:
        """Imports of one dataset one after the other: a key is read and written by one."""
        connection = await self.connection()
        await run(
            connection,
            "SELECT pg_advisory_xact_lock(hashtext('monitoring.statistics:' || :dataset))",
            dataset=dataset,
        )

    async def current(self, key: Key) -> Current | None:
        row = await one(
            await self.connection(),
            f"SELECT figures::text AS figures, source, loaded_at FROM statistics WHERE {KEY}",
            **_key(key),
        )
        return None if row is None else Current(loads(row.figures), row.source, row.loaded_at)

    async def add(self, figure: Figure, *, source: str, now: datetime) -> None:
        await run(
            await self.connection(),
            "INSERT INTO statistics (dataset, kato, variant, period_from, period_to, figures, "
            "source, loaded_at) VALUES (:dataset, :kato, :variant, :period_from, :period_to, "
            "CAST(:figures AS jsonb), :source, :now)",
            **_key(figure.key), figures=dumps(figure.figures), source=source, now=now,
        )  # fmt: skip

    async def replace(self, figure: Figure, *, source: str, now: datetime) -> None:
        """The current figure into the history (with its source), `figure` in its place."""
        connection = await self.connection()
        await run(
            connection,
            "INSERT INTO statistics_history (dataset, kato, variant, period_from, period_to, "
            f"figures, source, loaded_at, replaced_at) SELECT dataset, kato, variant, "
            f"period_from, period_to, figures, source, loaded_at, :now FROM statistics "
            f"WHERE {KEY}",
            **_key(figure.key), now=now,
        )  # fmt: skip
        await run(
            connection,
            f"UPDATE statistics SET figures = CAST(:figures AS jsonb), source = :source, "
            f"loaded_at = :now WHERE {KEY}",
            **_key(figure.key), figures=dumps(figure.figures), source=source, now=now,
        )  # fmt: skip
