"""Days and years in Kazakhstan's time (koshiqon.common.kz.kz_today / kz_year)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from koshiqon.common.kz import kz_today, kz_year


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2026, 12, 31, 18, 59, tzinfo=UTC), date(2026, 12, 31)),
        (datetime(2026, 12, 31, 19, 0, tzinfo=UTC), date(2027, 1, 1)),
        (datetime(2026, 12, 31, 19, 30, tzinfo=UTC), date(2027, 1, 1)),
        (datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5))), date(2027, 1, 1)),
        (datetime(2026, 3, 1, 9, 0, tzinfo=UTC), date(2026, 3, 1)),
    ],
)
def test_the_day_is_kazakhstans_not_utcs(instant: datetime, day: date) -> None:
    assert kz_today(instant) == day
    assert kz_year(instant) == day.year


def test_the_country_keeps_utc_plus_5_since_march_2024() -> None:
    """The tzdata this Python reads knows the change of 1 March 2024 (UTC+6 -> UTC+5)."""
    assert kz_today(datetime(2024, 2, 28, 18, 30, tzinfo=UTC)) == date(2024, 2, 29)  # +6
    assert kz_today(datetime(2024, 3, 1, 18, 30, tzinfo=UTC)) == date(2024, 3, 1)  # +5
    assert kz_today(datetime(2024, 3, 1, 19, 0, tzinfo=UTC)) == date(2024, 3, 2)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        kz_today(datetime(2026, 12, 31, 19, 30))


def test_the_zone_data_ships_with_the_services() -> None:
    """A slim image has no /usr/share/zoneinfo: the `tzdata` wheel is a run-time dependency
    of koshiqon-common, and it knows Kazakhstan's single zone (UTC+5 from 1 March 2024)."""
    from importlib import metadata, resources

    requires = [
        r.split(";")[0].replace(" ", "") for r in metadata.requires("koshiqon-common") or []
    ]
    assert any(r.startswith("tzdata") for r in requires)
    almaty = resources.files("tzdata").joinpath("zoneinfo", "Asia", "Almaty")
    assert almaty.is_file()
