"""The demo data set, made from a seed: the same seed and size give the same data, request
for request. Pure: no I/O; `koshiqon.devtools.stack.load` sends it through the public APIs.

What it holds, and where its figures come from:

- the 20 regions (`koshiqon.common.kz.REGIONS`) and their areas (the same table);
- the designated territories of docs/domain.md and the 2026 quotas (data/quotas_2026.csv);
- the population on 1 January 2024-2026 and the average population of 2025 and 2026,
  derived from the published series in data/ (each row's source says how), and births and
  deaths by region and month over the last 24 months. Those are not published by region:
  they are the 2024 crude rates by region where docs/domain.md quotes them (the Bureau's
  releases: birth rate in Turkestan, Mangystau, Shymkent, East and North Kazakhstan; death
  rate in North Kazakhstan, East Kazakhstan and Kostanay), and for every other region the
  rest of the national 2024 births and deaths (data/vital_national_2022-2024.csv) shared in
  proportion to the 2024 average population, so that the regions add up to the nation. Every
  such row's source says "derived";
- synthetic persons (a name from a short list, a birth date, a valid IIN) in every region, as
  many as `size`, spread by population; each is registered where they live, and over the
  last 24 months some move to another region (mostly from the north and east to Astana,
  Almaty, Almaty Region and Shymkent, as in 2024), some leave the country and some arrive
  from abroad (kandases among them). North Kazakhstan loses the most, and with a natural
  increase below zero its §8 alert holds;
- resettlement applications meant to end approved, completed, withdrawn and rejected (no
  quota in the region, or the quota used up), and proposals in every state of their workflow.

Nothing here is a real person: names and IINs are made up (an IIN is valid by its check digit
and agrees with the birth date and sex, as the registration service demands).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from koshiqon.common.kz import REGIONS, iin_check_digit, is_valid_iin

DEFAULT_SEED = 2026
DEFAULT_SIZE = 3000
MIN_PER_REGION = 25
WINDOW_MONTHS = 24
NAMESPACE = uuid.UUID("6f1f4a52-3c2e-4c8e-9a57-2d3b1c0e5a10")

NORTH_KAZAKHSTAN = "590000000"
KARAGANDA = "350000000"
ALMATY_CITY = "750000000"

# --- published figures the derivations start from (data/ and docs/domain.md) -------------------

POPULATION_2023 = {  # 1 January 2023 as revised (data/population_2022-2023.csv)
    "100000000": 610205, "110000000": 788023, "150000000": 928161, "190000000": 1505968,
    "230000000": 693085, "270000000": 688129, "310000000": 1218170, "330000000": 698729,
    "350000000": 1134854, "390000000": 832237, "430000000": 833676, "470000000": 767107,
    "550000000": 754949, "590000000": 534108, "610000000": 2119320, "620000000": 221426,
    "630000000": 730236, "710000000": 1354507, "750000000": 2161797, "790000000": 1192120,
}  # fmt: skip
AVERAGE = {  # average annual population 2023 and 2024 (data/population_average_2022-2024.csv)
    "100000000": (608893.5, 605210.5), "110000000": (787997.0, 787622.0),
    "150000000": (934458.5, 943939.5), "190000000": (1521620.5, 1542003.0),
    "230000000": (698735.5, 704659.0), "270000000": (690451.0, 693181.5),
    "310000000": (1222254.0, 1227010.0), "330000000": (697785.5, 697088.5),
    "350000000": (1133412.5, 1131976.5), "390000000": (829939.0, 826099.0),
    "430000000": (840271.5, 845932.0), "470000000": (779253.0, 792637.5),
    "550000000": (753148.5, 751091.5), "590000000": (531318.5, 527685.0),
    "610000000": (2133549.5, 2152119.0), "620000000": (221447.0, 221155.5),
    "630000000": (728528.5, 725951.0), "710000000": (1392165.0, 1437049.5),
    "750000000": (2196463.0, 2233302.0), "790000000": (1212163.5, 1230933.0),
}  # fmt: skip
NATIONAL_2024 = (365_923, 132_916)  # births, deaths (data/vital_national_2022-2024.csv)
BIRTH_RATE_2024 = {  # per 1,000, as quoted in docs/domain.md ("Regional contrasts")
    "610000000": 25.05, "470000000": 24.47, "790000000": 23.68,
    "630000000": 11.72, "590000000": 9.72,
}  # fmt: skip
DEATH_RATE_2024 = {"590000000": 11.52, "630000000": 11.32, "390000000": 10.12}
RATES_SOURCE = "docs/domain.md, BNS releases as reported"

# --- the demo's own assumptions (no published figure behind them) ------------------------------

GAINERS = {"710000000": 0.32, "750000000": 0.3, "190000000": 0.18, "790000000": 0.1}
MOVE_SHARE = {  # of a region's residents, the share that move within the window
    "590000000": 0.30, "390000000": 0.20, "550000000": 0.18, "630000000": 0.18,
    "100000000": 0.16, "350000000": 0.16, "620000000": 0.15, "110000000": 0.14,
}  # fmt: skip
MOVE_OTHER = 0.07
MOVE_GAINER = 0.03
EMIGRATION_SHARE = {"590000000": 0.10, "390000000": 0.05, "550000000": 0.05, "630000000": 0.05}
EMIGRATION_OTHER = 0.015
IMMIGRANT_SHARE = 0.12
DESTINATIONS = (("RUS", 0.6), ("DEU", 0.15), ("KGZ", 0.05), ("UZB", 0.05), ("TUR", 0.05),
                ("USA", 0.05), ("CHN", 0.05))  # fmt: skip
ORIGINS = (("UZB", 0.35), ("CHN", 0.25), ("MNG", 0.15), ("RUS", 0.1), ("TKM", 0.1),
           ("KGZ", 0.05))  # fmt: skip
KANDAS_ORIGINS = {"UZB", "CHN", "MNG", "TKM"}

TERRITORIES = {  # regions designated for resettlement in recent years (docs/domain.md)
    "kandas": ("110000000", "230000000", "630000000", "270000000", "390000000", "550000000",
               "590000000", "100000000"),
    "migrant": ("630000000", "390000000", "550000000", "590000000", "350000000", "110000000",
                "100000000", "620000000"),
}  # fmt: skip
TERRITORY_DECISION = "demo: the designations of recent years (docs/domain.md), from 1 January 2026"

SURNAMES = (  # (Latin, Cyrillic) of the male form; the female form adds an a
    ("Akhmetov", "Ахметов"), ("Serikbayev", "Серикбаев"), ("Nurlanov", "Нурланов"),
    ("Zhaksylykov", "Жаксылыков"), ("Omarov", "Омаров"), ("Kassymov", "Касымов"),
    ("Bekov", "Беков"), ("Tulegenov", "Тулегенов"), ("Abenov", "Абенов"),
    ("Sadykov", "Садыков"), ("Iskakov", "Искаков"), ("Mukhamedov", "Мухамедов"),
    ("Ivanov", "Иванов"), ("Petrov", "Петров"), ("Kim", "Ким"),
)  # fmt: skip
MALE_NAMES = (
    ("Aidos", "Айдос"), ("Nurlan", "Нурлан"), ("Yerlan", "Ерлан"), ("Daulet", "Даулет"),
    ("Arman", "Арман"), ("Timur", "Тимур"), ("Sergei", "Сергей"), ("Bauyrzhan", "Бауыржан"),
)  # fmt: skip
FEMALE_NAMES = (
    ("Aigerim", "Айгерим"), ("Dana", "Дана"), ("Aruzhan", "Аружан"), ("Madina", "Мадина"),
    ("Saule", "Сауле"), ("Zhanna", "Жанна"), ("Olga", "Ольга"), ("Ainur", "Айнур"),
)  # fmt: skip
CYRILLIC_A = "\u0430"  # the female ending of a Cyrillic surname
STREETS = ("Abai", "Tauelsizdik", "Respublika", "Satpayev", "Baitursynov", "Kunayev", "Mira")


# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticsImport:
    dataset: str
    source: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Step:
    """One request the loader sends for a person after their registration: a residence
    (`POST /v1/persons/{id}/residences`) or an emigration (`.../emigration`)."""

    kind: str  # "residence" | "emigration"
    body: dict[str, Any]
    on: date


@dataclass(frozen=True)
class PersonPlan:
    key: str
    region: str
    body: dict[str, Any]
    steps: list[Step]

    @property
    def iin(self) -> str:
        return str(self.body["iin"])


@dataclass(frozen=True)
class ApplicationPlan:
    """An application meant to end `outcome`: approved, completed (registered in the target
    region once approved), withdrawn (once approved), or rejected."""

    key: str
    applicant: int  # index into DemoPlan.persons
    family: list[int]
    category: str
    target_region: str
    outcome: str
    settle_on: date


@dataclass(frozen=True)
class ProposalPlan:
    """A proposal of a region's akimat, walked through `actions` (submit, review, approve,
    reject, return, edit, withdraw) to end `outcome`."""

    key: str
    region: str
    type: str
    payload: dict[str, Any]
    justification: str
    actions: list[str]
    outcome: str


@dataclass
class DemoPlan:
    seed: int
    size: int
    today: date
    window_start: date
    statistics: list[StatisticsImport] = field(default_factory=list)
    territories: list[dict[str, Any]] = field(default_factory=list)
    persons: list[PersonPlan] = field(default_factory=list)
    applications: list[ApplicationPlan] = field(default_factory=list)
    proposals: list[ProposalPlan] = field(default_factory=list)

    def key(self, *parts: object) -> str:
        """The Idempotency-Key of one request of this plan: made from the seed and what the
        request is (its kind, whom it concerns, its body), never from its place in the
        plan, so that another size or another day sends the same request under the same
        key, and a different request never reuses one (the services refuse that, 422)."""
        text = json.dumps([self.seed, *parts], sort_keys=True, default=str)
        return str(uuid.uuid5(NAMESPACE, text))

    @property
    def requests(self) -> int:
        """How many writing requests the plan sends (for the progress bar)."""
        return (
            len(self.statistics) + len(self.territories) + 1  # the quota order
            + sum(2 + len(p.steps) for p in self.persons)
            + len(self.applications) * 2
            + sum(1 + len(p.actions) for p in self.proposals)
            + 4  # the measures proposal: its checklist, submit, review, approve
        )  # fmt: skip


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def build(*, seed: int = DEFAULT_SEED, size: int = DEFAULT_SIZE, today: date) -> DemoPlan:
    """The demo data set for `seed` and `size` (persons, at least 25 per region), dated
    against `today` (Kazakhstan's date): its events fall in the 24 months before it."""
    if size < MIN_PER_REGION * len(REGIONS):
        raise ValueError(f"size must be at least {MIN_PER_REGION * len(REGIONS)}")
    rng = random.Random(seed)
    window_start = add_months(month_start(today), -WINDOW_MONTHS)
    plan = DemoPlan(seed=seed, size=size, today=today, window_start=window_start)
    plan.statistics = statistics(today)
    plan.territories = territories()
    plan.persons = persons(plan, rng)
    plan.applications = applications(plan, rng)
    plan.proposals = proposals(plan, today)
    return plan


# --- statistics --------------------------------------------------------------------------------


def statistics(today: date) -> list[StatisticsImport]:
    pop24 = {k: round(2 * AVERAGE[k][0] - POPULATION_2023[k]) for k in POPULATION_2023}
    pop25 = {k: round(2 * AVERAGE[k][1] - pop24[k]) for k in POPULATION_2023}
    pop26 = {k: 2 * pop25[k] - pop24[k] for k in POPULATION_2023}
    avg25 = {k: (pop25[k] + pop26[k]) / 2 for k in POPULATION_2023}
    avg26 = {k: pop26[k] + (pop26[k] - pop25[k]) / 2 for k in POPULATION_2023}
    derived = "demo data, derived (not published): "
    out = [
        StatisticsImport("population", derived + "1 January 2024 = 2 x average 2023 - 1 January "
                         "2023; 1 January 2025 = 2 x average 2024 - 1 January 2024 (data/)",
                         [_pop(k, "2024-01-01", v) for k, v in pop24.items()]
                         + [_pop(k, "2025-01-01", v) for k, v in pop25.items()]),
        StatisticsImport("population", derived + "1 January 2026 extrapolated from the change "
                         "of 2024 (data/)", [_pop(k, "2026-01-01", v) for k, v in pop26.items()]),
        StatisticsImport("population-average", derived + "averages of 2025 and 2026 from the "
                         "derived 1 January figures",
                         _averages(2025, avg25) + _averages(2026, avg26)),
        StatisticsImport("area", "koshiqon.common.kz.REGIONS: areas as commonly published "
                         "(regional infoboxes citing BNS), borders since 8 June 2022",
                         [{"kato": r.kato, "date": "2023-01-01", "area_km2": r.area_km2}
                          for r in REGIONS]),
    ]  # fmt: skip
    births, deaths = regional_vital()
    months = [add_months(month_start(today), -n) for n in range(WINDOW_MONTHS, 0, -1)]
    rows = []
    for kato in POPULATION_2023:
        for i, month in enumerate(months):
            b, d = _twelfth(births[kato], i), _twelfth(deaths[kato], i)
            rows.append({"kato": kato, "period": f"{month:%Y-%m}", "births": b, "deaths": d})
    out.append(StatisticsImport(
        "vital", derived + "the 2024 crude rates by region quoted in " + RATES_SOURCE + ", the "
        "rest of the national 2024 births and deaths (data/vital_national_2022-2024.csv) shared "
        "by average population; a year's figure split evenly over its months", rows,
    ))  # fmt: skip
    return out


def regional_vital() -> tuple[dict[str, int], dict[str, int]]:
    """A year's births and deaths by region: the quoted 2024 rates where there is one, the
    rest of the nation's 2024 figure shared by the 2024 average population elsewhere."""
    avg = {k: v[1] for k, v in AVERAGE.items()}
    return _share(NATIONAL_2024[0], BIRTH_RATE_2024, avg), _share(
        NATIONAL_2024[1], DEATH_RATE_2024, avg
    )


def _share(national: int, rates: dict[str, float], avg: dict[str, float]) -> dict[str, int]:
    fixed = {k: round(rates[k] * avg[k] / 1000) for k in rates}
    rest = national - sum(fixed.values())
    others = [k for k in avg if k not in rates]
    weight = sum(avg[k] for k in others)
    shared = {k: round(rest * avg[k] / weight) for k in others}
    shared[others[-1]] += rest - sum(shared.values())  # the rounding: the sum is the nation's
    return fixed | shared


def _twelfth(year: int, month_index: int) -> int:
    base, extra = divmod(year, 12)
    return base + (1 if month_index % 12 < extra else 0)


def _averages(year: int, averages: dict[str, float]) -> list[dict[str, Any]]:
    return [{"kato": k, "year": year, "average": round(v, 1)} for k, v in averages.items()]


def _pop(kato: str, day: str, total: int) -> dict[str, Any]:
    return {"kato": kato, "date": day, "total": int(total)}


def territories() -> list[dict[str, Any]]:
    return [
        {"kato": kato, "kind": kind, "effective_from": "2026-01-01", "decision": TERRITORY_DECISION}
        for kind, regions in TERRITORIES.items()
        for kato in regions
    ]


# --- persons -----------------------------------------------------------------------------------


def make_iin(birth: date, male: bool, serial: int) -> str | None:
    """The IIN of a person born on `birth` with that sex and serial (0-9999), or None when
    that serial gives no check digit (such numbers are never issued)."""
    century = {18: 1, 19: 3, 20: 5}[birth.year // 100] + (0 if male else 1)
    first11 = f"{birth:%y%m%d}{century}{serial:04d}"
    digit = iin_check_digit(first11)
    return None if digit is None else first11 + str(digit)


def persons(plan: DemoPlan, rng: random.Random) -> list[PersonPlan]:
    counts = _per_region(plan.size)
    used_iins: set[str] = set()
    out: list[PersonPlan] = []
    for kato, count in counts.items():
        for _ in range(count):
            out.append(_person(plan, rng, kato, len(out), used_iins))
    return out


def _per_region(size: int) -> dict[str, int]:
    total = sum(POPULATION_2023.values())
    spare = size - MIN_PER_REGION * len(POPULATION_2023)
    counts = {k: MIN_PER_REGION + int(spare * v / total) for k, v in POPULATION_2023.items()}
    counts[NORTH_KAZAKHSTAN] += size - sum(counts.values())
    return counts


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    values = [value for value, _ in weighted]
    chosen: str = rng.choices(values, weights=[weight for _, weight in weighted])[0]
    return chosen


def _day_in(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange(max(1, (end - start).days)))


def _person(
    plan: DemoPlan, rng: random.Random, kato: str, index: int, used: set[str]
) -> PersonPlan:
    male = rng.random() < 0.5
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 56))
    while True:
        iin = make_iin(birth, male, rng.randrange(10_000))
        if iin is not None and iin not in used:
            used.add(iin)
            break
    surname_lat, surname_cyr = rng.choice(SURNAMES)
    if not male:
        surname_lat, surname_cyr = surname_lat + "a", surname_cyr + CYRILLIC_A
    given_lat, given_cyr = rng.choice(MALE_NAMES if male else FEMALE_NAMES)
    immigrant = rng.random() < IMMIGRANT_SHARE
    origin = _pick(rng, ORIGINS) if immigrant else None
    body: dict[str, Any] = {
        "legal_status": "foreigner" if immigrant else "citizen",
        "iin": iin,
        "surname_latin": surname_lat,
        "given_names_latin": given_lat,
        "surname_cyrillic": surname_cyr,
        "given_names_cyrillic": given_cyr,
        "birth_date": birth.isoformat(),
        "sex": "male" if male else "female",
        "citizenship": origin or "KAZ",
    }
    last_day = plan.today - timedelta(days=1)
    if immigrant:
        arrived = _day_in(rng, plan.window_start, last_day - timedelta(days=60))
        if origin in KANDAS_ORIGINS and rng.random() < 0.6:
            body["kandas"] = {
                "certificate_number": f"KC-{index:06d}",
                "certificate_date": (arrived + timedelta(days=rng.randrange(1, 30))).isoformat(),
            }
        first = Step("residence", _residence(rng, kato, arrived, arrived_from=origin), arrived)
    else:
        since = _day_in(rng, max(birth + timedelta(days=18 * 365), date(2000, 1, 1)),
                        plan.window_start - timedelta(days=1))  # fmt: skip
        first = Step("residence", _residence(rng, kato, since), since)
    steps = [first]
    region = kato
    if not immigrant:
        share = MOVE_GAINER if kato in GAINERS else MOVE_SHARE.get(kato, MOVE_OTHER)
        if rng.random() < share:
            to = _destination(rng, kato)
            moved = _day_in(rng, plan.window_start, last_day - timedelta(days=30))
            steps.append(Step("residence", _residence(rng, to, moved), moved))
            region = to
    if rng.random() < EMIGRATION_SHARE.get(kato, EMIGRATION_OTHER):
        after = max(s.on for s in steps) + timedelta(days=1)
        start = max(after, plan.window_start)
        if start < last_day:
            left = _day_in(rng, start, last_day)
            body_e = {
                "destination_country": _pick(rng, DESTINATIONS),
                "departed_on": left.isoformat(),
            }
            steps.append(Step("emigration", body_e, left))
    return PersonPlan(plan.key("person", body), region, body, steps)


def _destination(rng: random.Random, home: str) -> str:
    if rng.random() < 0.85:
        options = [(k, w) for k, w in GAINERS.items() if k != home]
    else:
        options = [(k, 1.0) for k in POPULATION_2023 if k != home and k not in GAINERS]
    return _pick(rng, options)


def _residence(
    rng: random.Random, kato: str, since: date, *, arrived_from: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "permanent",
        "address": {
            "kato": kato,
            "street": f"{rng.choice(STREETS)} street",
            "building": str(rng.randrange(1, 200)),
            "apartment": str(rng.randrange(1, 120)),
        },
        "valid_from": since.isoformat(),
    }
    if arrived_from is not None:
        body["arrived_from"] = arrived_from
    return body


# --- resettlement applications -----------------------------------------------------------------


def applications(plan: DemoPlan, rng: random.Random) -> list[ApplicationPlan]:
    """Applications from persons who stay (registered now, not emigrated), with family
    members from the same region: kandases to kandas regions, citizens as migrants; meant to
    end approved, completed, withdrawn or rejected (Almaty city has no quota; Karaganda's 37
    migrant places run out)."""
    staying = [i for i, p in enumerate(plan.persons) if p.steps[-1].kind == "residence"]
    kandas = [i for i in staying if "kandas" in plan.persons[i].body]
    citizens = [i for i in staying if plan.persons[i].body["legal_status"] == "citizen"]
    rng.shuffle(kandas)
    rng.shuffle(citizens)
    taken: set[int] = set()
    out: list[ApplicationPlan] = []
    last_day = plan.today - timedelta(days=1)

    def family_of(applicant: int, n: int) -> list[int]:
        region = plan.persons[applicant].region
        members = [i for i in citizens if i not in taken and plan.persons[i].region == region]
        chosen = members[:n]
        taken.update(chosen)
        return chosen

    def add(pool: list[int], category: str, target: str, outcome: str, family: int) -> None:
        for candidate in pool:
            if candidate in taken or plan.persons[candidate].region == target:
                continue
            taken.add(candidate)
            members = family_of(candidate, family)
            iins = [plan.persons[i].iin for i in (candidate, *members)]
            key = plan.key("application", iins, category, target, outcome)
            out.append(ApplicationPlan(
                key, candidate, members, category, target, outcome, last_day
            ))  # fmt: skip
            return

    count = max(10, plan.size // 60)
    outcomes = ("completed", "approved", "completed", "withdrawn", "approved", "rejected")
    for n in range(count):
        outcome = outcomes[n % len(outcomes)]
        if outcome == "rejected":
            add(citizens, "migrant", ALMATY_CITY, outcome, rng.randrange(0, 3))
        elif n % 2 and kandas:
            add(kandas, "kandas", rng.choice(TERRITORIES["kandas"]), outcome, rng.randrange(0, 3))
        else:
            add(
                citizens,
                "migrant",
                rng.choice(TERRITORIES["migrant"]),
                outcome,
                rng.randrange(0, 3),
            )
    for _ in range(8):  # 8 families of 5 for Karaganda's 37 places: the last is denied
        add(citizens, "migrant", KARAGANDA, "karaganda", 4)
    return out


# --- proposals ---------------------------------------------------------------------------------


def proposals(plan: DemoPlan, today: date) -> list[ProposalPlan]:
    year = today.year

    def quota(kind: str, delta: int) -> dict[str, Any]:
        return {"kind": kind, "delta": delta, "horizon": {"year": year}}

    review = ["submit", "review"]
    table = [
        ("590000000", quota("migrant", 150), [*review, "approve"], "applied",
         "North Kazakhstan asks for more migrant places: its outflow exceeds its natural increase"),
        ("350000000", quota("migrant", -20), [*review, "approve"], "application_failed",
         "Karaganda gives back migrant places it has already reserved"),
        ("550000000", quota("kandas", 50), [], "draft", "Pavlodar drafts more kandas places"),
        ("390000000", quota("migrant", 40), ["submit"], "submitted", "Kostanay: more migrants"),
        ("630000000", quota("kandas", 30), review, "under_review", "East Kazakhstan: kandases"),
        ("110000000", quota("kandas", -10), [*review, "reject"], "rejected", "Akmola: fewer"),
        ("100000000", quota("migrant", 25), [*review, "return"], "returned", "Abai: migrants"),
        ("620000000", quota("migrant", 20), [*review, "return", "edit"], "edited", "Ulytau"),
        ("230000000", quota("kandas", 10), ["withdraw"], "withdrawn", "Atyrau: kandases"),
    ]  # fmt: skip
    return [
        ProposalPlan(plan.key("proposal", region, payload, actions, text), region,
                     "regional_quota_change", payload, f"demo: {text}", actions, outcome)
        for region, payload, actions, outcome, text in table
    ]  # fmt: skip


def check(plan: DemoPlan) -> None:
    """The plan's own invariants (the unit tests call it too): valid, unique IINs."""
    iins = [p.iin for p in plan.persons]
    if len(set(iins)) != len(iins) or not all(is_valid_iin(i) for i in iins):
        raise AssertionError("every IIN of the demo is valid and unique")
