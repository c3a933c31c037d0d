"""A dashboard table (`Sheet`): its columns and rows of plain values, rendered once as HTML
(labels in the page's language, numbers formatted, each cell's raw value for sorting) and
once as CSV (the column keys and the raw values, written as `/v1/indicators.csv` writes
them: an empty cell for a missing figure, true/false, floats as Python prints them), so a
download has the figures of the page and of the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Column:
    key: str  # the CSV header; for an indicator, its name in /v1/indicators.csv
    label: str
    numeric: bool = True  # right-aligned, thousands separated, sorted as numbers
    percent: bool = False  # a ratio shown in percent (the CSV keeps the ratio)


@dataclass(frozen=True)
class Row:
    values: Sequence[Any]
    shown: Sequence[str | None] = ()  # a cell's words instead of its value (a name, a stage)
    link: str | None = None  # where the row's first cell leads (a region's page)


@dataclass(frozen=True)
class Sheet:
    key: str
    title: str
    columns: Sequence[Column]
    rows: list[Row] = field(default_factory=list)
    empty: str = ""  # what the page says when there are no rows
    notes: Sequence[str] = ()  # said under the title (a forecast's method and base)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.key for c in self.columns])
        for row in self.rows:
            writer.writerow([cell(v) for v in row.values])
        return out.getvalue()

    def cells(self, row: Row, missing: str) -> list[tuple[str, str, bool]]:
        """Each cell as (text shown, sort key, numeric)."""
        out = []
        for i, (column, value) in enumerate(zip(self.columns, row.values, strict=True)):
            shown = row.shown[i] if i < len(row.shown) else None
            text = shown if shown is not None else display(value, missing, column)
            out.append((text, sort_key(value), column.numeric and shown is None))
        return out


def cell(value: object) -> object:
    """A value as the API's CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | UUID):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    return value


def display(value: object, missing: str, column: Column | None = None) -> str:
    if value is None:
        return missing
    if isinstance(value, bool):
        return "✓" if value else "—"
    if column is not None and column.percent and isinstance(value, int | float):
        return f"{100 * value:.1f} %"
    if column is not None and not column.numeric:
        return str(cell(value))
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")  # a narrow no-break space between thousands
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", "\u202f")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(cell(value))


def sort_key(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(cell(value))
