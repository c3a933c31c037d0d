"""The reference data under `data/`: every file's figures add up as `data/README.md` states,
every file is described there, and the project stands on its own: no tracked file points
at a folder beside the checkout."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from support.reference import DATA, ROOT, reference_file

from koshiqon.common import kz

# Regions created on 8 June 2022; the files in the old borders have the other 17.
NEW_REGIONS = {split.new for split in kz.LEGACY_SPLITS}
TODAYS_REGIONS = {region.kato for region in kz.REGIONS}
OLD_REGIONS = TODAYS_REGIONS - NEW_REGIONS


def rows(name: str) -> list[dict[str, str]]:
    with reference_file(name).open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def column_sum(table: list[dict[str, str]], column: str) -> int:
    return sum(int(row[column]) for row in table)


def katos(table: list[dict[str, str]]) -> list[str]:
    return [row["kato"] for row in table]


# ---------------------------------------------------------------------------------------------
# Each file's own arithmetic


def test_population_2023_01_01_sums_to_the_preliminary_national_figure() -> None:
    table = rows("population_2023-01-01.csv")
    assert sorted(katos(table)) == sorted(TODAYS_REGIONS)
    assert column_sum(table, "total") == 19_765_004
    for row in table:
        assert int(row["male"]) + int(row["female"]) == int(row["total"]), row["region"]


def test_population_2022_2023_sums_to_both_national_figures() -> None:
    table = rows("population_2022-2023.csv")
    assert sorted(katos(table)) == sorted(TODAYS_REGIONS)
    assert column_sum(table, "pop_2022-01-01") == 19_503_159
    assert column_sum(table, "pop_2023-01-01_revised") == 19_766_807


def test_population_2019_2021_is_in_the_old_borders_and_sums_to_the_national_figures() -> None:
    table = rows("population_2019-2021_old-borders.csv")
    assert sorted(katos(table)) == sorted(OLD_REGIONS)
    assert column_sum(table, "pop_2019-01-01") == 18_395_567
    assert column_sum(table, "pop_2020-01-01") == 18_631_779
    assert column_sum(table, "pop_2021-01-01") == 18_879_552


def test_average_population_2024_is_urban_plus_rural_on_every_row() -> None:
    table = rows("population_average_2022-2024.csv")
    assert sorted(katos(table)) == sorted(TODAYS_REGIONS)
    for row in table:
        urban, rural = Decimal(row["urban_2024"]), Decimal(row["rural_2024"])
        assert urban + rural == Decimal(row["avg_2024"]), row["region"]
    cities = {r.kato for r in kz.REGIONS if r.type is not kz.RegionType.REGION}
    assert all(Decimal(row["rural_2024"]) == 0 for row in table if row["kato"] in cities)


def test_national_births_minus_deaths_is_the_natural_increase() -> None:
    table = rows("vital_national_2022-2024.csv")
    assert [row["year"] for row in table] == ["2022", "2023", "2024"]
    for row in table:
        assert int(row["births"]) - int(row["deaths"]) == int(row["natural_increase"]), row["year"]


def test_age_groups_sum_to_each_total_and_to_the_national_figure() -> None:
    table = rows("age_groups_2020-01-01_old-borders.csv")
    assert sorted(katos(table)) == sorted(OLD_REGIONS)
    for row in table:
        groups = int(row["age_0_15"]) + int(row["working_age"]) + int(row["pension_age"])
        assert groups == int(row["total"]), row["region"]
    assert column_sum(table, "total") == 18_631_779


def test_the_2026_quotas_sum_to_the_national_totals() -> None:
    table = rows("quotas_2026.csv")
    assert {row["year"] for row in table} == {"2026"}
    by_kind = {
        kind: sum(int(row["persons"]) for row in table if row["kind"] == kind)
        for kind in {row["kind"] for row in table}
    }
    assert by_kind == {"kandas": 2_281, "migrant": 5_997}
    for row in table:  # the quota order format: `region` is the English name of `kato`
        assert kz.region_by_kato(row["kato"]).name_en == row["region"]


# ---------------------------------------------------------------------------------------------
# The files agree with one another (stated in data/README.md too)


def test_the_age_group_totals_are_the_2020_populations_in_the_old_borders() -> None:
    ages = {row["kato"]: int(row["total"]) for row in rows("age_groups_2020-01-01_old-borders.csv")}
    population = {
        row["kato"]: int(row["pop_2020-01-01"])
        for row in rows("population_2019-2021_old-borders.csv")
    }
    assert ages == population


def test_the_crude_birth_rate_is_births_per_1000_of_the_summed_regional_averages() -> None:
    averages = rows("population_average_2022-2024.csv")
    for row in rows("vital_national_2022-2024.csv"):
        average = sum(Decimal(region[f"avg_{row['year']}"]) for region in averages)
        rate = (Decimal(1000) * int(row["births"]) / average).quantize(Decimal("0.01"))
        assert rate == Decimal(row["crude_birth_rate_per_1000"]), row["year"]


# ---------------------------------------------------------------------------------------------
# The README describes every file


def test_every_csv_in_data_has_its_row_in_the_readme() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    described = set(re.findall(r"^\| `([^`]+\.csv)` \|", readme, flags=re.MULTILINE))
    present = {path.name for path in DATA.glob("*.csv")}
    assert present, "no CSV under data/"
    assert present - described == set(), "CSVs without a row in data/README.md"
    assert described - present == set(), "rows in data/README.md for files that are not there"


# ---------------------------------------------------------------------------------------------
# Nothing points beside the checkout

# Spelt in pieces so that this file does not match its own search.
FORBIDDEN = ("../" + "shared", "shared" + "/data", "KOSHIQON_" + "SHARED_DIR")
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()


def exempt(path: str) -> bool:
    """Files allowed to look beside the checkout: the Kubernetes manifests and a CRD-schema
    check (the published CRD schemas are not the project's to ship), and this test itself;
    data/ holds the reference data, not code."""
    name = path.rsplit("/", 1)[-1]
    return (
        path == THIS_FILE
        or path.startswith(("data/", "deploy/k8s/", ".git/"))
        or name.startswith("test_crds")
    )


def tracked_files() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files")
    listed = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    return [path for path in listed.split("\0") if path]


def test_no_tracked_file_points_at_a_shared_folder_beside_the_checkout() -> None:
    offenders: dict[str, list[str]] = {}
    for path in tracked_files():
        file = ROOT / path
        if exempt(path) or not file.is_file():  # deleted in the work tree, or a submodule
            continue
        text = file.read_bytes().decode("utf-8", errors="replace")
        found = [needle for needle in FORBIDDEN if needle in text]
        if found:
            offenders[path] = found
    assert offenders == {}, "files that depend on a folder beside the checkout"
