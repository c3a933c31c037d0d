"""The quota domain's rules, pure: periods, quota specs, quota order files."""

from __future__ import annotations

import pytest
from support.reference import quota_order_2026

from koshiqon.quota.domain.errors import InvalidQuota
from koshiqon.quota.domain.model import Category, Kind, Period, QuotaSpec
from koshiqon.quota.domain.orders import parse_order

ORDER_2026 = quota_order_2026()


def test_a_period_is_one_year_or_at_most_five() -> None:
    assert Period.of(2026) == Period(2026, 2026)
    assert Period.of(2026, 2030).covers(2028)
    with pytest.raises(InvalidQuota):
        Period.of(2026, 2031)
    with pytest.raises(InvalidQuota):
        Period.of(2027, 2026)


@pytest.mark.parametrize(
    ("kind", "region", "category", "limit", "field"),
    [
        (Kind.KANDAS, "550000000", Category.SKILLED, 5, "category"),
        (Kind.FOREIGN_LABOUR, "550000000", None, 5, "category"),
        (Kind.MIGRANT, "550000000", None, 0, "limit"),
        (Kind.MIGRANT, "990000000", None, 5, "region"),
        (Kind.MIGRANT, "551010000", None, 5, "region"),
    ],
)
def test_bad_quota_specs_name_the_field(
    kind: Kind, region: str, category: Category | None, limit: int, field: str
) -> None:
    with pytest.raises(InvalidQuota) as refused:
        QuotaSpec.of(kind=kind, region=region, period=Period.of(2026), category=category,
                     limit=limit)  # fmt: skip
    assert refused.value.field == field


def test_the_2026_order_parses_to_the_national_totals() -> None:
    parsed = parse_order(ORDER_2026.read_text())
    assert parsed.bad == []
    totals = {kind: sum(x.spec.limit for x in parsed.lines if x.spec.kind is kind) for kind in Kind}
    assert totals == {Kind.KANDAS: 2281, Kind.MIGRANT: 5997, Kind.FOREIGN_LABOUR: 0}


def test_every_bad_row_is_reported_with_its_line() -> None:
    text = "year,kind,kato,region,persons\n2026,kandas,550000000,Akmola,5\n2026,x,550000000,,1\n"
    text += "2026,migrant,550000000,Pavlodar,abc\n2026,migrant,550000000,Pavlodar,3\n"
    text += "2026,migrant,550000000,Pavlodar,4\n"
    assert [(b.line, b.reason.split(" ")[0]) for b in parse_order(text).bad] == [
        (2, "region"), (3, "kind"), (4, "persons"), (6, "duplicates"),
    ]  # fmt: skip


def test_a_file_that_is_not_csv_is_one_bad_row() -> None:
    assert [b.line for b in parse_order("year,kind\r2026\n").bad] == [1]
    assert parse_order("").bad[0].reason == "missing columns: year, kind, kato, region, persons"
