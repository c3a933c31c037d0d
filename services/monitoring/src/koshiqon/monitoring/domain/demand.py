"""The places a forecast population implies (§9): school places for ages 6-17, kindergarten
places for ages 1-5, and primary-care capacity per 10,000 population, by norms the service
is configured with (defaults and their sources in docs/forecast.md). Pure.

The age structure is held at its latest loaded figure: the region's own age groups where
loaded, else the national shares (the nation's figure, or the regions' with age groups
summed), and the answer says which."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

SCHOOL_AGES, KINDERGARTEN_AGES = "age_6_17", "age_1_5"
AGE_GROUPS = ("age_0", "age_1_5", "age_6_17", "age_18_62", "age_63_plus")


@dataclass(frozen=True)
class Norms:
    school_places_per_child: float
    kindergarten_places_per_child: float
    primary_care_per_10000: float


class ShareSource(StrEnum):
    REGION = "region"  # the region's own age groups
    NATIONAL = "national"  # the nation's figure (000000000) with age groups
    REGIONS = "national-from-regions"  # the regions' age groups that are loaded, summed
    NONE = "none"  # no age groups loaded anywhere: no school or kindergarten places


@dataclass(frozen=True)
class AgeGroups:
    """One loaded population figure's age groups (persons), on its date."""

    on: date
    groups: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.groups.get(g, 0) for g in AGE_GROUPS)


@dataclass(frozen=True)
class AgeShares:
    source: ShareSource
    on: date | None
    school: float | None  # share of ages 6-17 in the population
    kindergarten: float | None  # share of ages 1-5


NO_SHARES = AgeShares(ShareSource.NONE, None, None, None)


def shares_of(groups: AgeGroups, source: ShareSource) -> AgeShares:
    total = groups.total
    if total <= 0:
        return NO_SHARES
    return AgeShares(
        source, groups.on, groups.groups[SCHOOL_AGES] / total,
        groups.groups[KINDERGARTEN_AGES] / total,
    )  # fmt: skip


def choose_shares(
    region: AgeGroups | None, national: AgeGroups | None, regions: Sequence[AgeGroups]
) -> AgeShares:
    """The region's own; else the nation's; else those of the regions that have age groups,
    summed (each region's latest); else none."""
    if region is not None and region.total > 0:
        return shares_of(region, ShareSource.REGION)
    if national is not None and national.total > 0:
        return shares_of(national, ShareSource.NATIONAL)
    if regions:
        summed = {g: sum(r.groups.get(g, 0) for r in regions) for g in AGE_GROUPS}
        latest = max(r.on for r in regions)
        return shares_of(AgeGroups(latest, summed), ShareSource.REGIONS)
    return NO_SHARES


@dataclass(frozen=True)
class Places:
    school_places: int | None
    kindergarten_places: int | None
    primary_care: float


def places(population: float, shares: AgeShares, norms: Norms) -> Places:
    """Children of the age times places per child (rounded to a whole place); primary care
    as the norm's capacity (visits per shift) per 10,000 population."""
    school = kindergarten = None
    if shares.school is not None and shares.kindergarten is not None:
        school = round(population * shares.school * norms.school_places_per_child)
        kindergarten = round(population * shares.kindergarten * norms.kindergarten_places_per_child)
    primary = round(population / 10_000 * norms.primary_care_per_10000, 1)
    return Places(school, kindergarten, primary)
