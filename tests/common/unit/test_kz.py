"""IIN, BIN, KATO and the regions: the rules of docs/domain.md as examples and properties."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from koshiqon.common.errors import InvalidInput
from koshiqon.common.kz import (
    BIN,
    IIN,
    LEGACY_DISTRICTS,
    LEGACY_SPLITS,
    REGIONS,
    BinEntityType,
    BinUnit,
    RegionType,
    Sex,
    iin_check_digit,
    is_region_code,
    is_valid_bin,
    is_valid_iin,
    normalize_kato,
    region_by_kato,
    region_of,
    successor_regions,
)

# --- an independent reading of docs/domain.md's check digit, to test the module against -----------


def first_pass(digits: str) -> int:
    return sum(int(d) * w for d, w in zip(digits[:11], range(1, 12), strict=True)) % 11


def second_pass(digits: str) -> int:
    weights = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
    return sum(int(d) * w for d, w in zip(digits[:11], weights, strict=True)) % 11


def reference_check_digit(first11: str) -> int | None:
    check = first_pass(first11)
    if check == 10:
        check = second_pass(first11)
    return None if check == 10 else check


def century_digit(year: int, sex: Sex) -> int:
    return (year // 100 - 18) * 2 + (1 if sex is Sex.MALE else 2)


def with_digit(text: str, position: int, digit: str) -> str:
    return text[:position] + digit + text[position + 1 :]


@st.composite
def valid_iins(draw: st.DrawFn) -> tuple[str, date, Sex]:
    born = draw(st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31)))
    sex = draw(st.sampled_from(Sex))
    serial = draw(st.integers(min_value=0, max_value=9999))
    yymmdd = f"{born.year % 100:02d}{born.month:02d}{born.day:02d}"
    first11 = f"{yymmdd}{century_digit(born.year, sex)}{serial:04d}"
    check = reference_check_digit(first11)
    assume(check is not None)  # never issued
    return f"{first11}{check}", born, sex


other_digits = st.sampled_from("0123456789")


# --- IIN: worked examples ----------------------------------------------------------------------


def test_worked_example_is_valid_and_decoded() -> None:
    iin = IIN.parse("791028302728")

    assert iin == IIN(
        value="791028302728", birth_date=date(1979, 10, 28), sex=Sex.MALE, century=1900
    )
    assert first_pass("791028302728") == 8


def test_second_pass_example() -> None:
    assert first_pass("95031540070") == 10
    assert iin_check_digit("95031540070") == 1
    assert is_valid_iin("950315400701")
    assert IIN.parse("950315400701").sex is Sex.FEMALE


def test_iin_is_immutable() -> None:
    iin = IIN.parse("791028302728")
    with pytest.raises(FrozenInstanceError):
        iin.value = "950315400701"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    ["", "79102830272", "7910283027281", "79102830272a", " 791028302728", "791028 302728"],
)
def test_anything_but_12_digits_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInput, match="exactly 12 digits") as caught:
        IIN.parse(text)
    assert caught.value.field == "iin"


def test_non_ascii_digits_are_rejected() -> None:
    arabic_indic = "٧٩١٠٢٨٣٠٢٧٢٨"  # 791028302728 in Arabic-Indic digits: str.isdigit() is True
    assert not is_valid_iin(arabic_indic)


@pytest.mark.parametrize("digit", ["0", "7", "8", "9"])
def test_century_digit_outside_1_to_6_is_rejected(digit: str) -> None:
    with pytest.raises(InvalidInput, match=rf"digit 7 .* must be 1-6, not {digit}") as caught:
        IIN.parse(with_digit("791028302728", 6, digit))
    assert caught.value.field == "iin"


@pytest.mark.parametrize(
    ("yymmdd", "digit7", "century"),
    [("000229", "3", 1900), ("000229", "1", 1800), ("230229", "5", 2000), ("791328", "3", 1900)],
)
def test_birth_date_must_exist_in_its_century(yymmdd: str, digit7: str, century: int) -> None:
    with pytest.raises(InvalidInput, match=rf"not a real birth date .* {century}s") as caught:
        IIN.parse(f"{yymmdd}{digit7}00000")  # the date is checked before the check digit
    assert caught.value.field == "iin"


def test_feb_29_of_2000_exists() -> None:
    first11 = "00022950000"
    iin = IIN.parse(f"{first11}{iin_check_digit(first11)}")
    assert iin.birth_date == date(2000, 2, 29)
    assert iin.century == 2000


def test_never_issued_number_is_rejected() -> None:
    # 1900-01-01, male, serial 3018: both weight passes give 10.
    first11 = "00010130188"
    assert (first_pass(first11), second_pass(first11)) == (10, 10)
    assert iin_check_digit(first11) is None
    for last in "0123456789":
        with pytest.raises(InvalidInput, match="never-issued"):
            IIN.parse(first11 + last)


def test_wrong_check_digit_names_the_expected_one() -> None:
    with pytest.raises(InvalidInput, match="should be 8, not 9") as caught:
        IIN.parse("791028302729")
    assert caught.value.field == "iin"


@pytest.mark.parametrize("first11", ["", "1234567890", "123456789012", "1234567890a"])
def test_check_digit_needs_exactly_11_digits(first11: str) -> None:
    with pytest.raises(ValueError, match="11 digits"):
        iin_check_digit(first11)


# --- IIN: properties ---------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_check_digit_matches_the_domain_rule(first11: str) -> None:
    assert iin_check_digit(first11) == reference_check_digit(first11)


@given(valid_iins())
def test_every_generated_iin_parses_and_round_trips(case: tuple[str, date, Sex]) -> None:
    text, born, sex = case
    iin = IIN.parse(text)
    assert (iin.value, iin.birth_date, iin.sex, iin.century) == (
        text,
        born,
        sex,
        born.year // 100 * 100,
    )


@given(valid_iins())
def test_exactly_one_last_digit_completes_a_valid_prefix(case: tuple[str, date, Sex]) -> None:
    text = case[0]
    assert [d for d in "0123456789" if is_valid_iin(text[:11] + d)] == [text[11]]


# "Every single-digit change of a valid IIN fails" is NOT true of this check digit, for two
# reasons the tests below pin down:
#  * digit 11 has weight 11 = 0 (mod 11) in the first pass, so whenever the first pass does not
#    give 10 (10 numbers in 11), any other digit 11 leaves the number valid;
#  * a change that moves the number into or out of the second pass meets the unchanged check
#    digit by chance (e.g. 950315400701 / 950315400501, 791028302728 / 991028302728).
# What does hold: the check digit itself, and digits 1-10 whenever neither number needs the
# second pass.


@given(valid_iins(), other_digits)
def test_changing_the_check_digit_is_always_detected(
    case: tuple[str, date, Sex], digit: str
) -> None:
    text = case[0]
    assume(digit != text[11])
    assert not is_valid_iin(with_digit(text, 11, digit))


@given(valid_iins(), st.integers(min_value=0, max_value=9), other_digits)
def test_changing_digits_1_to_10_is_detected_within_the_first_pass(
    case: tuple[str, date, Sex], position: int, digit: str
) -> None:
    text = case[0]
    changed = with_digit(text, position, digit)
    assume(changed != text)
    if first_pass(text) != 10 and first_pass(changed) != 10:
        assert not is_valid_iin(changed)
    elif is_valid_iin(changed):  # undetected: only possible across the second pass
        assert 10 in (first_pass(text), first_pass(changed))


@given(valid_iins(), other_digits)
def test_changing_digit_11_is_detected_only_after_a_second_pass(
    case: tuple[str, date, Sex], digit: str
) -> None:
    text = case[0]
    assume(digit != text[10])
    assert is_valid_iin(with_digit(text, 10, digit)) is (first_pass(text) != 10)


def test_undetected_single_digit_changes_exist() -> None:
    assert all(is_valid_iin(f"7910283027{d}8") for d in "0123456789")  # digit 11
    assert is_valid_iin("950315400501")  # digit 10: out of the second pass, 144 mod 11 = 1
    assert is_valid_iin("991028302728")  # digit 1: into the second pass, which gives 8


def test_changing_digit_11_after_a_second_pass_is_detected() -> None:
    assert [d for d in "0123456789" if is_valid_iin(f"9503154007{d}1")] == ["0"]


# --- BIN ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "year", "month", "entity_type", "unit"),
    [
        ("940140000385", 1994, 1, BinEntityType.RESIDENT_LEGAL_ENTITY, BinUnit.HEAD),
        ("950341000052", 1995, 3, BinEntityType.RESIDENT_LEGAL_ENTITY, BinUnit.BRANCH),
        ("181240006529", 2018, 12, BinEntityType.RESIDENT_LEGAL_ENTITY, BinUnit.HEAD),
        ("210440021733", 2021, 4, BinEntityType.RESIDENT_LEGAL_ENTITY, BinUnit.HEAD),
    ],
)
def test_bin_is_decoded(
    text: str, year: int, month: int, entity_type: BinEntityType, unit: BinUnit
) -> None:
    assert BIN.parse(text) == BIN(text, year, month, entity_type, unit)
    assert is_valid_bin(text)


@pytest.mark.parametrize(
    ("prefix", "entity_type", "unit"),
    [
        ("0806", BinEntityType.NON_RESIDENT, BinUnit.REPRESENTATIVE_OFFICE),
        ("0806", BinEntityType.JOINT_ENTREPRENEUR, BinUnit.PEASANT_FARM),
    ],
)
def test_bin_entity_types_and_units(prefix: str, entity_type: BinEntityType, unit: BinUnit) -> None:
    candidates = (f"{prefix}{entity_type}{unit}{serial:05d}" for serial in range(100))
    first11 = next(p for p in candidates if iin_check_digit(p) is not None)
    parsed = BIN.parse(f"{first11}{iin_check_digit(first11)}")
    assert (parsed.registered_year, parsed.registered_month) == (2008, 6)
    assert (parsed.entity_type, parsed.unit) == (entity_type, unit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("94014000038", "exactly 12 digits"),
        ("9401400003855", "exactly 12 digits"),
        ("940040000385", "month 01-12, not 00"),
        ("941340000385", "month 01-12, not 13"),
        ("940130000385", "digit 5 .* must be 4, 5 or 6, not 3"),
        ("940144000385", "digit 6 .* must be 0-3, not 4"),
    ],
)
def test_malformed_bin_is_rejected(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        BIN.parse(text)
    assert caught.value.field == "bin"


def test_bin_check_digit_is_verified() -> None:
    with pytest.raises(InvalidInput, match=r"BIN check digit .* should be 5, not 6"):
        BIN.parse("940140000386")
    assert not is_valid_bin("940140000386")


# --- Regions -----------------------------------------------------------------------------------

DOMAIN_TABLE = [
    ("100000000", "KZ-10", "область Абай", "Abai", RegionType.REGION),
    ("110000000", "KZ-11", "Акмолинская область", "Akmola", RegionType.REGION),
    ("150000000", "KZ-15", "Актюбинская область", "Aktobe", RegionType.REGION),
    ("190000000", "KZ-19", "Алматинская область", "Almaty Region", RegionType.REGION),
    ("230000000", "KZ-23", "Атырауская область", "Atyrau", RegionType.REGION),
    ("270000000", "KZ-27", "Западно-Казахстанская область", "West Kazakhstan", RegionType.REGION),
    ("310000000", "KZ-31", "Жамбылская область", "Zhambyl", RegionType.REGION),
    ("330000000", "KZ-33", "область Жетісу", "Jetisu", RegionType.REGION),
    ("350000000", "KZ-35", "Карагандинская область", "Karaganda", RegionType.REGION),
    ("390000000", "KZ-39", "Костанайская область", "Kostanay", RegionType.REGION),
    ("430000000", "KZ-43", "Кызылординская область", "Kyzylorda", RegionType.REGION),
    ("470000000", "KZ-47", "Мангистауская область", "Mangystau", RegionType.REGION),
    ("550000000", "KZ-55", "Павлодарская область", "Pavlodar", RegionType.REGION),
    ("590000000", "KZ-59", "Северо-Казахстанская область", "North Kazakhstan", RegionType.REGION),
    ("610000000", "KZ-61", "Туркестанская область", "Turkestan", RegionType.REGION),
    ("620000000", "KZ-62", "область Ұлытау", "Ulytau", RegionType.REGION),
    ("630000000", "KZ-63", "Восточно-Казахстанская область", "East Kazakhstan", RegionType.REGION),
    ("710000000", "KZ-71", "г. Астана", "Astana", RegionType.CAPITAL),  # noqa: RUF001
    ("750000000", "KZ-75", "г. Алматы", "Almaty", RegionType.CITY),  # noqa: RUF001
    ("790000000", "KZ-79", "г. Шымкент", "Shymkent", RegionType.CITY),  # noqa: RUF001
]


def test_regions_are_domain_md_table_in_order() -> None:
    assert [(r.kato, r.iso, r.name_ru, r.name_en, r.type) for r in REGIONS] == DOMAIN_TABLE


def test_region_codes_are_unique_and_iso_numbers_equal_kato_prefixes() -> None:
    assert len({r.kato for r in REGIONS}) == len({r.iso for r in REGIONS}) == 20
    for region in REGIONS:
        assert region.kato == f"{region.kato[:2]}0000000"
        assert region.iso == f"KZ-{region.kato[:2]}"


def test_every_region_has_kazakh_name_and_positive_area() -> None:
    for region in REGIONS:
        assert region.name_kk.endswith(("облысы", "қаласы"))
        assert region.area_km2 > 0
    assert sum(r.area_km2 for r in REGIONS) == pytest.approx(2_724_902, rel=0.001)


def test_three_regions_of_2022_record_what_they_were_carved_from() -> None:
    carved = {r.name_en: (r.created, r.formed_from) for r in REGIONS if r.created}
    assert carved == {
        "Abai": (date(2022, 6, 8), "630000000"),
        "Jetisu": (date(2022, 6, 8), "190000000"),
        "Ulytau": (date(2022, 6, 8), "350000000"),
    }
    assert {(s.old, s.new, s.effective) for s in LEGACY_SPLITS} == {
        (r.formed_from, r.kato, r.created) for r in REGIONS if r.formed_from
    }


def test_region_by_kato_and_is_region_code() -> None:
    assert region_by_kato("750000000").name_en == "Almaty"
    assert is_region_code("620000000")
    assert not is_region_code("751110000")
    assert not is_region_code("620000000 ")
    with pytest.raises(InvalidInput, match="not the code of a region") as caught:
        region_by_kato("751110000")
    assert caught.value.field == "kato"


def test_region_of_a_district_code() -> None:
    assert region_of("751110000").name_en == "Almaty"
    assert region_of("632453100").name_en == "East Kazakhstan"


@pytest.mark.parametrize("kato", ["", "75111000", "7511100000", "75111000a", " 751110000"])
def test_malformed_kato_is_rejected(kato: str) -> None:
    for lookup in (region_of, region_by_kato):
        with pytest.raises(InvalidInput, match="exactly 9 digits") as caught:
            lookup(kato)
        assert caught.value.field == "kato"


def test_unknown_prefix_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="no region with prefix 51") as caught:
        region_of("511610000")
    assert caught.value.field == "kato"


def test_normalize_kato() -> None:
    assert normalize_kato(" 63 24 53 100 ") == "632453100"
    with pytest.raises(InvalidInput, match="exactly 9 digits") as caught:
        normalize_kato("63 24 53 10")
    assert caught.value.field == "kato"


# --- Codes from before 8 June 2022 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kato", "expected"),
    [
        ("632453100", ["East Kazakhstan", "Abai"]),
        ("190000000", ["Almaty Region", "Jetisu"]),
        ("351610000", ["Karaganda", "Ulytau"]),
        ("551610000", ["Pavlodar"]),
        ("100000000", ["Abai"]),
    ],
)
def test_successor_regions_before_the_split(kato: str, expected: list[str]) -> None:
    assert [r.name_en for r in successor_regions(kato, as_of=date(2022, 6, 7))] == expected


@pytest.mark.parametrize("kato", ["632453100", "190000000", "351610000"])
def test_successor_regions_from_the_split_on(kato: str) -> None:
    assert successor_regions(kato, as_of=date(2022, 6, 8)) == (region_of(kato),)


def test_legacy_district_table_holds_only_split_regions() -> None:
    # Empty until filled from the official pre-2022 KATO release; guards future entries.
    old_prefixes = {s.old[:2] for s in LEGACY_SPLITS}
    for district, region in LEGACY_DISTRICTS.items():
        assert len(district) == 4
        assert district[:2] in old_prefixes
        assert is_region_code(region)


def test_successor_regions_rejects_malformed_kato() -> None:
    with pytest.raises(InvalidInput) as caught:
        successor_regions("6324531", as_of=date(2020, 1, 1))
    assert caught.value.field == "kato"
