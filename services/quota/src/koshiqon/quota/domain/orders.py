"""A year's quota order as a CSV file (the format of data/quotas_2026.csv):

    year,kind,kato,region,persons[,category]

Every row is checked and every bad row reported with its line number (the header is line 1);
one bad row and nothing is imported. `region` is the region's English name and must match
`kato`; `category` is needed for foreign labour rows only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from koshiqon.common import kz
from koshiqon.common.errors import DomainError
from koshiqon.quota.domain.model import Category, Kind, Period, Quota, QuotaSpec, Territory

REQUIRED_COLUMNS = ("year", "kind", "kato", "region", "persons")
MAX_ROWS = 10_000


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class OrderLine:
    line: int
    spec: QuotaSpec


@dataclass(frozen=True)
class ParsedOrder:
    lines: list[OrderLine]
    bad: list[BadRow]


@dataclass(frozen=True)
class ImportedOrder:
    """What an imported order established, and the territories it designated for them."""

    quotas: list[Quota]
    territories: list[Territory]


def parse_order(text: str) -> ParsedOrder:
    try:
        return _parse(text)
    except csv.Error as error:  # e.g. a stray carriage return: the file is not CSV
        return ParsedOrder([], [BadRow(1, f"not a CSV file: {error}")])


def _parse(text: str) -> ParsedOrder:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        return ParsedOrder([], [BadRow(1, f"missing columns: {', '.join(missing)}")])
    reader.fieldnames = columns
    lines: list[OrderLine] = []
    bad: list[BadRow] = []
    for number, row in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            bad.append(BadRow(number, f"an order has at most {MAX_ROWS} rows"))
            break
        try:
            lines.append(OrderLine(number, _spec(row)))
        except (DomainError, ValueError) as error:
            bad.append(BadRow(number, _reason(error)))
    if not lines and not bad:
        bad.append(BadRow(1, "the order has no rows"))
    return ParsedOrder(lines, bad + _duplicates(lines))


def _spec(row: dict[str, str | None]) -> QuotaSpec:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    try:
        kind = Kind(cell("kind"))
    except ValueError:
        raise ValueError(f"kind must be one of {', '.join(k.value for k in Kind)}") from None
    year, persons = _integer(cell("year"), "year"), _integer(cell("persons"), "persons")
    category = Category(cell("category")) if cell("category") else None
    spec = QuotaSpec.of(
        kind=kind, region=cell("kato"), period=Period.of(year), category=category, limit=persons
    )
    name = cell("region")
    expected = kz.region_by_kato(spec.region).name_en
    if name and name != expected:
        raise ValueError(f"region {name!r} does not match KATO {spec.region} ({expected})")
    return spec


def _integer(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{field} must be a whole number, not {text!r}") from None


def _reason(error: Exception) -> str:
    if isinstance(error, DomainError):
        return f"{error.field}: {error.detail}" if error.field else error.detail
    return str(error)


def _duplicates(lines: list[OrderLine]) -> list[BadRow]:
    seen: dict[tuple[object, ...], int] = {}
    bad = []
    for line in lines:
        key = (line.spec.kind, line.spec.region, line.spec.period, line.spec.category)
        if key in seen:
            bad.append(BadRow(line.line, f"duplicates line {seen[key]}"))
        else:
            seen[key] = line.line
    return bad
