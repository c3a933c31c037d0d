"""Periods (`2023`, `2023-Q2`, `2023-05`, the §8 rolling window) and the statistical rows'
checks, pure."""

from __future__ import annotations

from datetime import date

import pytest

from koshiqon.common.errors import InvalidInput
from koshiqon.monitoring.domain.periods import parse_period, rolling_window
from koshiqon.monitoring.domain.statistics import Dataset, csv_rows, parse, same_figures


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("2023-Q2", date(2023, 4, 1), date(2023, 6, 30)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-Q4", date(2023, 10, 1), date(2023, 12, 31)),
    ],
)
def test_periods(text: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, text)


@pytest.mark.parametrize("text", ["2023-13", "2023-Q5", "23", "2023-5", "", "1800"])
def test_bad_periods_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_period(text)
    assert refused.value.field == "period"


def test_rolling_window_is_the_twelve_complete_months_before_today() -> None:
    window = rolling_window(date(2024, 3, 15))
    assert (window.start, window.end) == (date(2023, 3, 1), date(2024, 2, 29))
    january = rolling_window(date(2024, 1, 1))
    assert (january.start, january.end) == (date(2023, 1, 1), date(2023, 12, 31))


def test_csv_lines_are_numbered_from_the_header() -> None:
    rows = csv_rows("kato,date,total\n\n590000000,2023-01-01,1\n", Dataset.POPULATION)
    assert [line for line, _ in rows] == [3]


def test_age_groups_add_up_to_the_total() -> None:
    row = {"kato": "590000000", "date": "2023-01-01", "total": "100", "age_0": "1",
           "age_1_5": "9", "age_6_17": "20", "age_18_62": "50", "age_63_plus": "19"}  # fmt: skip
    assert [b.reason for b in parse(Dataset.POPULATION, [(2, row)]).bad] == [
        "the age groups do not add up to total"
    ]
    assert not parse(Dataset.POPULATION, [(2, {**row, "age_63_plus": "20"})]).bad
    partial = {k: v for k, v in row.items() if k != "age_0"}
    assert "all five together" in parse(Dataset.POPULATION, [(2, partial)]).bad[0].reason


def test_jetisu_is_accepted_from_its_year_and_refused_before() -> None:
    def rows(day: str) -> list[tuple[int, dict[str, str | int | float | None]]]:
        return [(1, {"kato": "330000000", "date": day, "total": 1})]

    assert not parse(Dataset.POPULATION, rows("2022-01-01")).bad
    assert "did not exist" in parse(Dataset.POPULATION, rows("2021-12-31")).bad[0].reason


def test_same_figures_whatever_the_number_type() -> None:
    assert same_figures({"total": 610189}, {"total": 610189.0})
    assert not same_figures({"total": 610189}, {"total": 610190})


@pytest.mark.parametrize("value", ["²", "1e3", "12.5", "nan", "-0x1", True, [1]])
def test_a_count_that_is_not_a_whole_number_is_a_bad_row(value: object) -> None:
    row = {"kato": "590000000", "date": "2023-01-01", "total": value}
    [bad] = parse(Dataset.POPULATION, [(2, row)]).bad  # type: ignore[list-item]
    assert bad.line == 2
