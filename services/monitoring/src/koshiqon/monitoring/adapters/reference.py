"""`koshiqon-monitoring load-reference`: the public figures the project ships in `data/`
(sources in data/README.md) loaded as statistical inputs, each file with its source.

1 January 2023 is in two files: the preliminary figures (`population_2023-01-01.csv`,
19,765,004 in all, with sex) and the Bureau's revision (`population_2022-2023.csv`,
19,766,807). The preliminary are loaded first and kept where something is loaded already;
the revised replace them, so the indicators show the revision and the history keeps the
preliminary with its source. Every other file keeps what is loaded (a figure replaced
through the API stays replaced). Running it again changes nothing.

Not loaded: `age_groups_2020-01-01_old-borders.csv` (ages 0-15, working and pension age:
not the §5 age groups 0, 1-5, 6-17, 18-62, 63+) and `quotas_2026.csv` (the quota service's:
monitoring sees quotas through quota.v1)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from koshiqon.monitoring.bus import Bus
from koshiqon.monitoring.domain import commands as c
from koshiqon.monitoring.domain.forecast import PopulationFigure
from koshiqon.monitoring.domain.statistics import (
    NATIONAL,
    Dataset,
    Figure,
    Key,
    Value,
    bad_rows_error,
    parse,
)

PRELIMINARY = "BNS, preliminary, via open-data-kazakhstan/city-population data/city_population.csv"
REVISED = (
    "BNS element 6584, as revised, via open-data-kazakhstan/population-projections-by-regions "
    "data/kazpop.csv"
)
OLD_BORDERS = (
    "open-data-kazakhstan/water-resources-and-demographics data/population-main.csv (BNS; "
    "the 17 regions before 8 June 2022; the 2021 figure estimated before the census)"
)
AVERAGES = "BNS element 6576, via makenerzhan-gif/kazakhstan-economic-data"
VITAL = "BNS, via makenerzhan-gif/kazakhstan-economic-data"

Rows = list[tuple[int, dict[str, Value]]]


@dataclass(frozen=True)
class Step:
    file: str
    dataset: Dataset
    rows: Rows
    source: str
    existing: c.Existing


def data_dir() -> Path:
    """`KOSHIQON_HOME`/data, else the `data/` of the checkout holding the working directory
    or this package."""
    home = os.environ.get("KOSHIQON_HOME")
    candidates = [Path(home)] if home else []
    candidates += [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    for root in candidates:
        if (root / "data" / "README.md").is_file() and (
            root / "data" / "quotas_2026.csv"
        ).is_file():
            return root / "data"
    raise FileNotFoundError("no data/ directory found: set KOSHIQON_HOME or pass --data")


def _read(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        yield from enumerate(csv.DictReader(f), start=2)


def steps(data: Path) -> list[Step]:
    old: Rows = []
    for line, row in _read(data / "population_2019-2021_old-borders.csv"):
        for y in (2019, 2020, 2021):
            old.append((line, {"kato": row["kato"], "date": f"{y}-01-01",
                               "total": row[f"pop_{y}-01-01"]}))  # fmt: skip
    preliminary: Rows = [
        (line, {"kato": r["kato"], "date": "2023-01-01", "total": r["total"], "male": r["male"],
                "female": r["female"]})
        for line, r in _read(data / "population_2023-01-01.csv")
    ]  # fmt: skip
    revised_file = list(_read(data / "population_2022-2023.csv"))
    on_2022: Rows = [
        (line, {"kato": r["kato"], "date": "2022-01-01", "total": r["pop_2022-01-01"]})
        for line, r in revised_file
    ]
    revised: Rows = [
        (line, {"kato": r["kato"], "date": "2023-01-01", "total": r["pop_2023-01-01_revised"]})
        for line, r in revised_file
    ]
    averages: Rows = []
    for line, r in _read(data / "population_average_2022-2024.csv"):
        for y in (2022, 2023):
            averages.append((line, {"kato": r["kato"], "year": str(y), "average": r[f"avg_{y}"]}))
        averages.append((line, {"kato": r["kato"], "year": "2024", "average": r["avg_2024"],
                                "urban": r["urban_2024"], "rural": r["rural_2024"]}))  # fmt: skip
    vital: Rows = [
        (line, {"kato": NATIONAL, "period": r["year"], "births": r["births"],
                "deaths": r["deaths"]})
        for line, r in _read(data / "vital_national_2022-2024.csv")
    ]  # fmt: skip
    keep, replace = c.Existing.KEEP, c.Existing.REPLACE
    population = Dataset.POPULATION
    return [
        Step("population_2019-2021_old-borders.csv", population, old, OLD_BORDERS, keep),
        Step("population_2023-01-01.csv", population, preliminary, PRELIMINARY, keep),
        Step("population_2022-2023.csv", population, on_2022, REVISED, keep),
        Step("population_2022-2023.csv", population, revised, REVISED, replace),
        Step("population_average_2022-2024.csv", Dataset.POPULATION_AVERAGE, averages,
             AVERAGES, keep),
        Step("vital_national_2022-2024.csv", Dataset.VITAL, vital, VITAL, keep),
    ]  # fmt: skip


async def load_reference(bus: Bus, data: Path) -> list[tuple[Step, c.ImportResult]]:
    """Every step through the bus, as an import through the API would be."""
    done = []
    for step in steps(data):
        result = await bus.handle(
            c.ImportStatistics(
                dataset=step.dataset, rows=step.rows, source=step.source,
                existing=step.existing, actor=c.WORKER,
            )
        )  # fmt: skip
        done.append((step, result))
    return done


def population_figures(data: Path) -> list[PopulationFigure]:
    """The population figures `load_reference` would leave loaded in an empty database (each
    file's rows checked as an import checks them; the revised 1 January 2023 in place of the
    preliminary), without a database: what `koshiqon-monitoring backtest` forecasts."""
    loaded: dict[Key, Figure] = {}
    for step in steps(data):
        if step.dataset not in (Dataset.POPULATION, Dataset.POPULATION_AVERAGE):
            continue
        parsed = parse(step.dataset, step.rows)
        if parsed.bad:
            raise bad_rows_error(parsed.bad)
        for figure in parsed.figures:
            if figure.key not in loaded or step.existing is c.Existing.REPLACE:
                loaded[figure.key] = figure
    return [
        PopulationFigure(
            key.kato, key.dataset.value, key.period_from, key.period_to,
            float(f.figures["total" if key.dataset is Dataset.POPULATION else "average"]),
        )
        for key, f in loaded.items()
    ]  # fmt: skip
