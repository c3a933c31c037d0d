"""Kazakhstan identifiers and reference data: IIN, BIN, KATO codes and the regions, and
the country's calendar (the day and the year of an instant in Kazakhstan's time).

Every rule here is written down in docs/domain.md ("IIN", "KATO and the regions", "Days
and years"). Pure Python: no clock of its own (the caller passes the instant). Failures
raise `InvalidInput` with the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

from koshiqon.common.errors import InvalidInput

__all__ = [
    "BIN",
    "IIN",
    "KAZAKHSTAN_TIME_ZONE",
    "LEGACY_DISTRICTS",
    "LEGACY_SPLITS",
    "REGIONS",
    "SPLIT_DATE",
    "BinEntityType",
    "BinUnit",
    "LegacyMapping",
    "Region",
    "RegionType",
    "Sex",
    "iin_check_digit",
    "is_region_code",
    "is_valid_bin",
    "is_valid_iin",
    "kz_today",
    "kz_year",
    "normalize_kato",
    "region_by_kato",
    "region_of",
    "successor_regions",
]

# ---------------------------------------------------------------------------------------------
# Check digit (shared by IIN and BIN)

_FIRST_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_ELEVEN_DIGITS = re.compile(r"[0-9]{11}")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")


def _weighted_mod11(digits: Sequence[int], weights: Sequence[int]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=True)) % 11


def iin_check_digit(first11: str) -> int | None:
    """The check digit for the first 11 digits of an IIN or BIN; None if never issued.

    Raises ValueError unless `first11` is exactly 11 ASCII digits.
    """
    if not _ELEVEN_DIGITS.fullmatch(first11):
        raise ValueError("the check digit is computed from exactly 11 digits")
    digits = [int(ch) for ch in first11]
    check = _weighted_mod11(digits, _FIRST_WEIGHTS)
    if check == 10:
        check = _weighted_mod11(digits, _SECOND_WEIGHTS)
    return None if check == 10 else check


def _verify_check_digit(text: str, *, field: str, label: str) -> None:
    expected = iin_check_digit(text[:11])
    if expected is None:
        raise InvalidInput(
            f"This {label} is a never-issued number: its check digit cannot be computed "
            "(both weight passes give 10)",
            field=field,
        )
    if int(text[11]) != expected:
        raise InvalidInput(
            f"The {label} check digit does not match: the last digit should be {expected}, "
            f"not {text[11]}",
            field=field,
        )


# ---------------------------------------------------------------------------------------------
# IIN


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


_CENTURY_AND_SEX: Mapping[str, tuple[int, Sex]] = MappingProxyType(
    {
        "1": (1800, Sex.MALE),
        "2": (1800, Sex.FEMALE),
        "3": (1900, Sex.MALE),
        "4": (1900, Sex.FEMALE),
        "5": (2000, Sex.MALE),
        "6": (2000, Sex.FEMALE),
    }
)


def _iin_birth_date(yymmdd: str, century: int) -> date:
    try:
        return date(century + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        raise InvalidInput(
            f"IIN digits 1-6 ({yymmdd}) are not a real birth date YYMMDD in the {century}s",
            field="iin",
        ) from None


@dataclass(frozen=True)
class IIN:
    """An individual identification number. Build it with `IIN.parse`."""

    value: str
    birth_date: date
    sex: Sex
    century: int

    @classmethod
    def parse(cls, text: str) -> IIN:
        """Validate `text` (exactly 12 ASCII digits, no spaces) or raise InvalidInput."""
        if not _TWELVE_DIGITS.fullmatch(text):
            raise InvalidInput("An IIN is exactly 12 digits", field="iin")
        century_and_sex = _CENTURY_AND_SEX.get(text[6])
        if century_and_sex is None:
            raise InvalidInput(
                f"IIN digit 7 (century and sex) must be 1-6, not {text[6]}", field="iin"
            )
        century, sex = century_and_sex
        birth_date = _iin_birth_date(text[:6], century)
        _verify_check_digit(text, field="iin", label="IIN")
        return cls(value=text, birth_date=birth_date, sex=sex, century=century)


def is_valid_iin(text: str) -> bool:
    """True when `IIN.parse(text)` would succeed."""
    try:
        IIN.parse(text)
    except InvalidInput:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# BIN


class BinEntityType(StrEnum):
    """BIN digit 5."""

    RESIDENT_LEGAL_ENTITY = "4"
    NON_RESIDENT = "5"
    JOINT_ENTREPRENEUR = "6"


class BinUnit(StrEnum):
    """BIN digit 6."""

    HEAD = "0"
    BRANCH = "1"
    REPRESENTATIVE_OFFICE = "2"
    PEASANT_FARM = "3"


# BIN digits 1-2 are the year of the entity's original registration. Entities registered in
# the 1990s kept that year when BINs were assigned (Halyk Bank's BIN is 940140000385), so
# YY >= 90 reads as 19YY; everything else as 20YY (valid until 2090).
_BIN_1900S_FROM = 90
_BIN_ENTITY_TYPES = frozenset(t.value for t in BinEntityType)
_BIN_UNITS = frozenset(u.value for u in BinUnit)


@dataclass(frozen=True)
class BIN:
    """A business identification number. Build it with `BIN.parse`."""

    value: str
    registered_year: int
    registered_month: int
    entity_type: BinEntityType
    unit: BinUnit

    @classmethod
    def parse(cls, text: str) -> BIN:
        """Validate `text` (exactly 12 ASCII digits, no spaces) or raise InvalidInput."""
        if not _TWELVE_DIGITS.fullmatch(text):
            raise InvalidInput("A BIN is exactly 12 digits", field="bin")
        yy, month = int(text[:2]), int(text[2:4])
        if not 1 <= month <= 12:
            raise InvalidInput(
                f"BIN digits 3-4 are the registration month 01-12, not {text[2:4]}", field="bin"
            )
        if text[4] not in _BIN_ENTITY_TYPES:
            raise InvalidInput(
                f"BIN digit 5 (entity type) must be 4, 5 or 6, not {text[4]}", field="bin"
            )
        if text[5] not in _BIN_UNITS:
            raise InvalidInput(f"BIN digit 6 (unit) must be 0-3, not {text[5]}", field="bin")
        _verify_check_digit(text, field="bin", label="BIN")
        return cls(
            value=text,
            registered_year=(1900 if yy >= _BIN_1900S_FROM else 2000) + yy,
            registered_month=month,
            entity_type=BinEntityType(text[4]),
            unit=BinUnit(text[5]),
        )


def is_valid_bin(text: str) -> bool:
    """True when `BIN.parse(text)` would succeed."""
    try:
        BIN.parse(text)
    except InvalidInput:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# KATO and the regions (since 8 June 2022)


class RegionType(StrEnum):
    REGION = "region"
    CAPITAL = "capital"
    CITY = "city"  # city of republican significance


@dataclass(frozen=True)
class Region:
    """A region or city of republican significance. `formed_from` is a KATO region code."""

    kato: str
    iso: str
    name_kk: str
    name_ru: str
    name_en: str
    type: RegionType
    created: date | None
    formed_from: str | None
    area_km2: int


SPLIT_DATE = date(2022, 6, 8)
"""Abai, Jetisu and Ulytau were created on this day."""


def _region(  # positional on purpose: one row of the reference table below
    kato: str,
    name_kk: str,
    name_ru: str,
    name_en: str,
    area_km2: int,
    *,
    type_: RegionType = RegionType.REGION,
    formed_from: str | None = None,
) -> Region:
    return Region(
        kato=kato,
        iso=f"KZ-{kato[:2]}",  # the ISO 3166-2:KZ number is the KATO prefix
        name_kk=name_kk,
        name_ru=name_ru,
        name_en=name_en,
        type=type_,
        created=SPLIT_DATE if formed_from else None,
        formed_from=formed_from,
        area_km2=area_km2,
    )


_CITY, _CAPITAL = RegionType.CITY, RegionType.CAPITAL

# Areas in km2 within the borders since 8 June 2022, as commonly published (regional infoboxes
# citing the Bureau of National Statistics; Karaganda + Ulytau = the old Karaganda's 427,982,
# East Kazakhstan + Abai ~ the old 283,226). Check against the Bureau's current yearbook.
REGIONS: tuple[Region, ...] = (
    _region("100000000", "Абай облысы", "область Абай", "Abai", 185_476, formed_from="630000000"),
    _region("110000000", "Ақмола облысы", "Акмолинская область", "Akmola", 146_219),
    _region("150000000", "Ақтөбе облысы", "Актюбинская область", "Aktobe", 300_629),
    _region("190000000", "Алматы облысы", "Алматинская область", "Almaty Region", 105_100),
    _region("230000000", "Атырау облысы", "Атырауская область", "Atyrau", 118_631),
    _region(
        "270000000",
        "Батыс Қазақстан облысы",
        "Западно-Казахстанская область",
        "West Kazakhstan",
        151_339,
    ),
    _region("310000000", "Жамбыл облысы", "Жамбылская область", "Zhambyl", 144_264),
    _region(
        "330000000", "Жетісу облысы", "область Жетісу", "Jetisu", 118_500, formed_from="190000000"
    ),
    _region("350000000", "Қарағанды облысы", "Карагандинская область", "Karaganda", 239_045),
    _region("390000000", "Қостанай облысы", "Костанайская область", "Kostanay", 196_001),
    _region("430000000", "Қызылорда облысы", "Кызылординская область", "Kyzylorda", 226_019),
    _region("470000000", "Маңғыстау облысы", "Мангистауская область", "Mangystau", 165_642),
    _region("550000000", "Павлодар облысы", "Павлодарская область", "Pavlodar", 124_800),
    _region(
        "590000000",
        "Солтүстік Қазақстан облысы",
        "Северо-Казахстанская область",
        "North Kazakhstan",
        97_993,
    ),
    _region("610000000", "Түркістан облысы", "Туркестанская область", "Turkestan", 116_280),
    _region(
        "620000000", "Ұлытау облысы", "область Ұлытау", "Ulytau", 188_937, formed_from="350000000"
    ),
    _region(
        "630000000",
        "Шығыс Қазақстан облысы",
        "Восточно-Казахстанская область",
        "East Kazakhstan",
        97_726,
    ),
    # "g." below is the Cyrillic abbreviation of "city", hence the RUF001 exemptions.
    _region("710000000", "Астана қаласы", "г. Астана", "Astana", 810, type_=_CAPITAL),  # noqa: RUF001
    _region("750000000", "Алматы қаласы", "г. Алматы", "Almaty", 683, type_=_CITY),  # noqa: RUF001
    _region("790000000", "Шымкент қаласы", "г. Шымкент", "Shymkent", 1_170, type_=_CITY),  # noqa: RUF001
)

_BY_KATO: Mapping[str, Region] = MappingProxyType({r.kato: r for r in REGIONS})
_BY_PREFIX: Mapping[str, Region] = MappingProxyType({r.kato[:2]: r for r in REGIONS})
_NINE_DIGITS = re.compile(r"[0-9]{9}")


def _require_kato(kato: str) -> str:
    if not _NINE_DIGITS.fullmatch(kato):
        raise InvalidInput("A KATO code is exactly 9 digits", field="kato")
    return kato


def normalize_kato(text: str) -> str:
    """`text` without any whitespace ("63 24 53 100" -> "632453100"), checked to be 9 digits."""
    return _require_kato("".join(text.split()))


def is_region_code(kato: str) -> bool:
    """True for the own code (AB0000000) of one of the 20 regions."""
    return kato in _BY_KATO


def region_by_kato(kato: str) -> Region:
    """The region whose own code is exactly `kato`."""
    region = _BY_KATO.get(_require_kato(kato))
    if region is None:
        raise InvalidInput(f"KATO code {kato} is not the code of a region", field="kato")
    return region


def region_of(kato: str) -> Region:
    """The region containing any 9-digit KATO code, by its two-digit prefix."""
    region = _BY_PREFIX.get(_require_kato(kato)[:2])
    if region is None:
        raise InvalidInput(f"KATO code {kato} has no region with prefix {kato[:2]}", field="kato")
    return region


# ---------------------------------------------------------------------------------------------
# Codes from before 8 June 2022


@dataclass(frozen=True)
class LegacyMapping:
    """A split: codes of region `old` dated before `effective` may lie in region `new`."""

    old: str
    new: str
    effective: date


LEGACY_SPLITS: tuple[LegacyMapping, ...] = (
    LegacyMapping(old="630000000", new="100000000", effective=SPLIT_DATE),  # East Kaz. -> Abai
    LegacyMapping(old="190000000", new="330000000", effective=SPLIT_DATE),  # Almaty Reg. -> Jetisu
    LegacyMapping(old="350000000", new="620000000", effective=SPLIT_DATE),  # Karaganda -> Ulytau
)
_SPLIT_OF: Mapping[str, LegacyMapping] = MappingProxyType({s.old: s for s in LEGACY_SPLITS})

LEGACY_DISTRICTS: Mapping[str, str] = MappingProxyType({})
"""Pre-2022 district prefix (first 4 KATO digits) -> code of the region it lies in today.

Deliberately empty: it must be filled from the official KATO release in force before
8 June 2022, never from memory. `successor_regions` consults it before falling back to
"the old region or the one carved from it".
"""


def successor_regions(kato: str, *, as_of: date) -> tuple[Region, ...]:
    """The regions a KATO code recorded on `as_of` may belong to today, most likely first.

    On or after the split date this is just `region_of(kato)`. Before it, a code of a region
    that was later split maps to the old region and the one carved from it, unless
    `LEGACY_DISTRICTS` knows its district. A new region's code is its own region at any date.
    """
    current = region_of(kato)
    split = _SPLIT_OF.get(current.kato)
    if split is None or as_of >= split.effective:
        return (current,)
    known = LEGACY_DISTRICTS.get(kato[:4])
    if known is not None:
        return (region_by_kato(known),)
    return (current, region_by_kato(split.new))


# ---------------------------------------------------------------------------------------------
# Days and years in Kazakhstan's time

KAZAKHSTAN_TIME_ZONE = "Asia/Almaty"
"""The IANA zone of the country's official time. Since 1 March 2024 the whole country keeps
one time, UTC+5 (tzdata 2024a and later say so for Asia/Almaty; before that date Almaty,
Astana and the east kept UTC+6). The day of a registration, the end of a stay and "the
current year" of a quota are those of this zone, never of UTC."""


@cache
def _kazakhstan() -> ZoneInfo:
    return ZoneInfo(KAZAKHSTAN_TIME_ZONE)


def kz_today(now: datetime) -> date:
    """The calendar day in Kazakhstan at the instant `now` (which must carry its offset):
    2026-12-31T19:30Z is already 1 January 2027 there."""
    if now.utcoffset() is None:
        raise ValueError("the instant has no time zone: pass an aware datetime")
    return now.astimezone(_kazakhstan()).date()


def kz_year(now: datetime) -> int:
    """The calendar year in Kazakhstan at the instant `now` (see `kz_today`)."""
    return kz_today(now).year
