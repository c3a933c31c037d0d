"""The statistical inputs of §5: the datasets, their rows and the checks every row passes
before anything is written. Pure: rows in (from JSON or CSV, each with its line), figures
or the bad rows out.

A figure is keyed by (dataset, kato, variant, period_from, period_to): a population on a
date is the period of that one day, a year's average population the year, births and
deaths their period; `variant` tells apart the ecological and the religious situation.
The KATO code is a region's own code, or `000000000` for the whole country."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from koshiqon.common import kz
from koshiqon.common.errors import InvalidInput
from koshiqon.monitoring.domain import periods
from koshiqon.monitoring.domain.errors import InvalidStatistics

NATIONAL = "000000000"
MAX_ROWS = 10_000
SHARE_TOLERANCE = 0.1
AGE_GROUPS = ("age_0", "age_1_5", "age_6_17", "age_18_62", "age_63_plus")

Value = int | float | str | None
Figures = dict[str, Any]


class Dataset(StrEnum):
    POPULATION = "population"
    POPULATION_AVERAGE = "population-average"
    AREA = "area"
    VITAL = "vital"
    ETHNICITY = "ethnicity"
    LABOUR_MARKET = "labour-market"
    SITUATION = "situation"


COLUMNS: Mapping[Dataset, tuple[str, ...]] = {
    Dataset.POPULATION: ("kato", "date", "total", "urban", "rural", "male", "female", *AGE_GROUPS),
    Dataset.POPULATION_AVERAGE: ("kato", "year", "average", "urban", "rural"),
    Dataset.AREA: ("kato", "date", "area_km2"),
    Dataset.VITAL: ("kato", "period", "births", "deaths"),
    Dataset.ETHNICITY: ("kato", "date", "group", "count", "share"),
    Dataset.LABOUR_MARKET: (
        "kato", "date", "job_seekers", "vacancies", "unemployed", "unemployment_rate",
    ),
    Dataset.SITUATION: ("kato", "date", "topic", "rating", "note"),
}  # fmt: skip
REQUIRED: Mapping[Dataset, tuple[str, ...]] = {
    Dataset.POPULATION: ("kato", "date", "total"),
    Dataset.POPULATION_AVERAGE: ("kato", "year", "average"),
    Dataset.AREA: ("kato", "date", "area_km2"),
    Dataset.VITAL: ("kato", "period", "births", "deaths"),
    Dataset.ETHNICITY: ("kato", "date", "group"),
    Dataset.LABOUR_MARKET: ("kato", "date", "job_seekers", "vacancies"),
    Dataset.SITUATION: ("kato", "date", "topic"),
}


@dataclass(frozen=True)
class Key:
    dataset: Dataset
    kato: str
    variant: str
    period_from: date
    period_to: date


@dataclass(frozen=True)
class Figure:
    key: Key
    figures: Figures
    line: int


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class Parsed:
    figures: list[Figure] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


def bad_rows_error(bad: Sequence[BadRow]) -> InvalidStatistics:
    """The 422 of an import with bad rows: every one listed, with its line and reason."""
    rows = sorted(bad, key=lambda row: row.line)
    return InvalidStatistics(
        f"{len(rows)} bad row(s); nothing was imported",
        extra={
            "rows": [{"line": r.line, "reason": r.reason} for r in rows],
            "errors": [{"field": f"line {r.line}", "message": r.reason} for r in rows],
        },
    )


# --- reading the rows ---------------------------------------------------------------------


def csv_rows(text: str, dataset: Dataset) -> list[tuple[int, dict[str, Value]]]:
    """The data rows of a CSV file with a header row, each with its line number (the header
    is line 1). Unknown or repeated columns are refused as a whole (line 1)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise bad_rows_error([BadRow(1, "the file is empty: a header row is expected")]) from None
    except csv.Error as exc:
        raise bad_rows_error([BadRow(1, f"not CSV: {exc}")]) from None
    names = [h.strip() for h in header]
    allowed = set(COLUMNS[dataset])
    unknown = [n for n in names if n not in allowed]
    missing = [n for n in REQUIRED[dataset] if n not in names]
    problems = []
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if len(set(names)) != len(names):
        problems.append("a column is repeated")
    if problems:
        expected = ", ".join(COLUMNS[dataset])
        raise bad_rows_error([BadRow(1, "; ".join(problems) + f" (columns: {expected})")])
    rows: list[tuple[int, dict[str, Value]]] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(names):
                rows.append((line, {"__width__": len(values)}))
                continue
            rows.append(
                (line, {n: (v.strip() or None) for n, v in zip(names, values, strict=True)})
            )
    except csv.Error as exc:
        raise bad_rows_error([BadRow(reader.line_num, f"not CSV: {exc}")]) from None
    return rows


def json_rows(rows: Sequence[Mapping[str, Value]]) -> list[tuple[int, dict[str, Value]]]:
    """JSON rows numbered from 1 (the row's place in `rows`)."""
    return [(i, dict(row)) for i, row in enumerate(rows, start=1)]


# --- the checks -----------------------------------------------------------------------------


class _Bad(Exception):
    """A row's value that fails its check; caught per row and reported with its line."""


def parse(dataset: Dataset, rows: Sequence[tuple[int, Mapping[str, Value]]]) -> Parsed:
    """Every row checked; the figures of the good ones, and every bad row with its reason."""
    out = Parsed()
    if len(rows) > MAX_ROWS:
        out.bad.append(BadRow(0, f"at most {MAX_ROWS} rows per import"))
        return out
    if not rows:
        out.bad.append(BadRow(0, "no rows"))
        return out
    if dataset is Dataset.ETHNICITY:
        _ethnicity(rows, out)
    else:
        for line, row in rows:
            try:
                out.figures.append(_row(dataset, line, row))
            except _Bad as bad:
                out.bad.append(BadRow(line, str(bad)))
    _no_repeats(out)
    return out


def _no_repeats(out: Parsed) -> None:
    seen: dict[Key, int] = {}
    for figure in out.figures:
        first = seen.setdefault(figure.key, figure.line)
        if first != figure.line:
            out.bad.append(BadRow(figure.line, f"repeats the region and date of line {first}"))


def _row(dataset: Dataset, line: int, row: Mapping[str, Value]) -> Figure:
    _columns(dataset, row)
    kato = _kato(row)
    if dataset is Dataset.POPULATION:
        on = _date(row, "date")
        _exists(kato, on)
        figures: Figures = {"total": _int(row, "total")}
        for name in ("urban", "rural", "male", "female", *AGE_GROUPS):
            value = _opt_int(row, name)
            if value is not None:
                figures[name] = value
        _pair_sums(figures, "urban", "rural", "total")
        _pair_sums(figures, "male", "female", "total")
        given = [g for g in AGE_GROUPS if g in figures]
        if given and len(given) != len(AGE_GROUPS):
            raise _Bad(f"age groups come all five together ({', '.join(AGE_GROUPS)})")
        if given and sum(figures[g] for g in AGE_GROUPS) != figures["total"]:
            raise _Bad("the age groups do not add up to total")
        return Figure(Key(dataset, kato, "", on, on), figures, line)
    if dataset is Dataset.POPULATION_AVERAGE:
        y = _year(row)
        period = periods.year(y)
        _exists(kato, period.end)
        figures = {"average": _number(row, "average")}
        for name in ("urban", "rural"):
            number = _opt_number(row, name)
            if number is not None:
                figures[name] = number
        _pair_sums(figures, "urban", "rural", "average", tolerance=0.01)
        return Figure(Key(dataset, kato, "", period.start, period.end), figures, line)
    if dataset is Dataset.AREA:
        on = _date(row, "date")
        _exists(kato, on)
        area = _number(row, "area_km2")
        if area == 0:
            raise _Bad("area_km2 must be greater than 0")
        return Figure(Key(dataset, kato, "", on, on), {"area_km2": area}, line)
    if dataset is Dataset.VITAL:
        period = _period(row)
        _exists(kato, period.end)
        figures = {"births": _int(row, "births"), "deaths": _int(row, "deaths")}
        return Figure(Key(dataset, kato, "", period.start, period.end), figures, line)
    if dataset is Dataset.LABOUR_MARKET:
        on = _date(row, "date")
        _exists(kato, on)
        figures = {"job_seekers": _int(row, "job_seekers"), "vacancies": _int(row, "vacancies")}
        unemployed = _opt_int(row, "unemployed")
        if unemployed is not None:
            figures["unemployed"] = unemployed
        rate = _opt_number(row, "unemployment_rate")
        if rate is not None:
            if rate > 100:
                raise _Bad("unemployment_rate is a percentage: at most 100")
            figures["unemployment_rate"] = rate
        return Figure(Key(dataset, kato, "", on, on), figures, line)
    # situation
    on = _date(row, "date")
    _exists(kato, on)
    topic = _text(row, "topic", limit=20)
    if topic not in ("ecological", "religious"):
        raise _Bad("topic must be ecological or religious")
    rating = _opt_number(row, "rating")
    note = _opt_text(row, "note", limit=2000)
    if rating is None and note is None:
        raise _Bad("a situation needs a rating or a note")
    if rating is not None and rating > 10:
        raise _Bad("rating is from 0 to 10")
    figures = {k: v for k, v in (("rating", rating), ("note", note)) if v is not None}
    return Figure(Key(dataset, kato, topic, on, on), figures, line)


def _ethnicity(rows: Sequence[tuple[int, Mapping[str, Value]]], out: Parsed) -> None:
    """Rows of one region and date make one figure: its groups' counts, or their shares
    (percent, adding up to 100 within 0.1)."""
    groups: dict[tuple[str, date], list[tuple[int, str, str, float]]] = {}
    for line, row in rows:
        try:
            _columns(Dataset.ETHNICITY, row)
            kato = _kato(row)
            on = _date(row, "date")
            _exists(kato, on)
            group = _text(row, "group", limit=100)
            count = _opt_int(row, "count")
            share = _opt_number(row, "share")
            if (count is None) == (share is None):
                raise _Bad("give either count or share")
            if share is not None and share > 100:
                raise _Bad("a share is a percentage: at most 100")
            kind, value = ("count", float(count)) if count is not None else ("share", share or 0.0)
            groups.setdefault((kato, on), []).append((line, group, kind, value))
        except _Bad as bad:
            out.bad.append(BadRow(line, str(bad)))
    for (kato, on), members in groups.items():
        first = members[0][0]
        kinds = {m[2] for m in members}
        names = [m[1] for m in members]
        if len(kinds) > 1:
            out.bad.append(BadRow(first, f"region {kato} on {on}: counts and shares mixed"))
            continue
        if len(set(names)) != len(names):
            out.bad.append(BadRow(first, f"region {kato} on {on}: a group is repeated"))
            continue
        kind = kinds.pop()
        if kind == "share":
            total = sum(m[3] for m in members)
            if abs(total - 100.0) > SHARE_TOLERANCE:
                lines = ", ".join(str(m[0]) for m in members)
                out.bad.append(
                    BadRow(first, f"the shares of lines {lines} add up to {total:g}, not 100")
                )
                continue
        values: dict[str, int | float] = {
            m[1]: (int(m[3]) if kind == "count" else m[3]) for m in members
        }
        key = Key(Dataset.ETHNICITY, kato, "", on, on)
        out.figures.append(Figure(key, {"kind": kind, "groups": values}, first))


def _columns(dataset: Dataset, row: Mapping[str, Value]) -> None:
    if "__width__" in row:
        raise _Bad(f"{row['__width__']} values where the header has {len(COLUMNS[dataset])}")
    unknown = sorted(set(row) - set(COLUMNS[dataset]))
    if unknown:
        raise _Bad(f"unknown field(s) {', '.join(unknown)}")


def _present(row: Mapping[str, Value], name: str, required: bool) -> Value:
    value = row.get(name)
    if isinstance(value, str) and not value.strip():
        value = None
    if value is None and required:
        raise _Bad(f"{name} is missing")
    return value


def _kato(row: Mapping[str, Value]) -> str:
    value = _present(row, "kato", True)
    kato = str(value).strip() if isinstance(value, str | int) else ""
    if kato == NATIONAL or kz.is_region_code(kato):
        return kato
    if len(kato) == 9 and kato.isdigit():
        raise _Bad(f"kato {kato} is not the code of a region (nor 000000000, the country)")
    raise _Bad("kato must be a region's 9-digit KATO code")


def _exists(kato: str, on: date) -> None:
    """Abai, Jetisu and Ulytau were formed on 8 June 2022. The Bureau's series of that year
    are recalculated in today's borders (data/population_2022-2023.csv gives them on
    1 January 2022), so their figures are taken from 1 January 2022; before it only the 17
    old regions, in their old borders."""
    if kato == NATIONAL:
        return
    region = kz.region_by_kato(kato)
    if region.created is not None and on < date(region.created.year, 1, 1):
        raise _Bad(
            f"region {kato} ({region.name_en}) did not exist on {on.isoformat()}: it was formed "
            f"on {region.created.isoformat()}; earlier figures belong to {region.formed_from} "
            "in the old borders"
        )


def _date(row: Mapping[str, Value], name: str) -> date:
    value = _present(row, name, True)
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise _Bad(f"{name} must be a date, YYYY-MM-DD") from None
    if not periods.FIRST_YEAR <= day.year <= periods.LAST_YEAR:
        raise _Bad(f"{name} must be in {periods.FIRST_YEAR}-{periods.LAST_YEAR}")
    return day


def _year(row: Mapping[str, Value]) -> int:
    value = _present(row, "year", True)
    try:
        y = int(str(value))
    except ValueError:
        raise _Bad("year must be a year, e.g. 2023") from None
    if not periods.FIRST_YEAR <= y <= periods.LAST_YEAR:
        raise _Bad(f"year must be {periods.FIRST_YEAR}-{periods.LAST_YEAR}")
    return y


def _period(row: Mapping[str, Value]) -> periods.Period:
    value = _present(row, "period", True)
    try:
        return periods.parse_period(str(value))
    except InvalidInput as exc:
        raise _Bad(exc.detail) from None


def _opt_int(row: Mapping[str, Value], name: str) -> int | None:
    return None if _present(row, name, False) is None else _int(row, name)


def _opt_number(row: Mapping[str, Value], name: str) -> float | None:
    return None if _present(row, name, False) is None else _number(row, name)


def _opt_text(row: Mapping[str, Value], name: str, *, limit: int) -> str | None:
    return None if _present(row, name, False) is None else _text(row, name, limit=limit)


def _int(row: Mapping[str, Value], name: str) -> int:
    value = _present(row, name, True)
    if isinstance(value, bool):
        raise _Bad(f"{name} must be a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Bad(f"{name} must be a whole number")
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(".0"):
            text = text[:-2]
        digits = text[1:] if text[:1] in "+-" else text
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
            raise _Bad(f"{name} must be a whole number")
        value = int(text)
    if not isinstance(value, int):
        raise _Bad(f"{name} must be a whole number")
    if value < 0:
        raise _Bad(f"{name} must not be negative")
    if value > 10**12:
        raise _Bad(f"{name} is too large")
    return value


def _number(row: Mapping[str, Value], name: str) -> float:
    value = _present(row, name, True)
    if isinstance(value, bool):
        raise _Bad(f"{name} must be a number")
    if value is None:
        raise _Bad(f"{name} is missing")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Bad(f"{name} must be a number") from None
    if not math.isfinite(number):
        raise _Bad(f"{name} must be a finite number")
    if number < 0:
        raise _Bad(f"{name} must not be negative")
    if number > 1e12:
        raise _Bad(f"{name} is too large")
    return int(number) if number.is_integer() else number


def _text(row: Mapping[str, Value], name: str, *, limit: int) -> str:
    value = _present(row, name, True)
    if not isinstance(value, str):
        raise _Bad(f"{name} must be text")
    text = value.strip()
    if len(text) > limit:
        raise _Bad(f"{name} is at most {limit} characters")
    if any(ord(c) < 32 for c in text):
        raise _Bad(f"{name} must not hold control characters")
    return text


def _pair_sums(figures: Figures, a: str, b: str, total: str, *, tolerance: float = 0.0) -> None:
    if (a in figures) != (b in figures):
        raise _Bad(f"{a} and {b} come together")
    if a in figures and abs(figures[a] + figures[b] - figures[total]) > tolerance:
        raise _Bad(f"{a} + {b} = {figures[a] + figures[b]:g}, not {total} {figures[total]:g}")


def same_figures(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal figures, whatever the JSON number types (610189 and 610189.0 are one figure)."""
    return bool(_normal(a) == _normal(b))


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def figure_rows(figures: Iterable[Figure]) -> list[Figure]:
    return sorted(figures, key=lambda f: f.line)
