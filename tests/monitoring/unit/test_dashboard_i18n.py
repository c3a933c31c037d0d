"""The dashboard's catalogue: every UI key the templates and pages ask for is there in the
three languages, and every code the dashboard names (indicators, quota kinds, legal
statuses, proposal types and stages) has its words; the regions' names come from
kz.REGIONS, all three of each."""

from __future__ import annotations

import re
from pathlib import Path

from koshiqon.common import kz
from koshiqon.common.events import proposals as prop
from koshiqon.common.events.registration import LegalStatus
from koshiqon.monitoring.domain.indicators import QUOTA_KINDS
from koshiqon.monitoring.domain.model import STAGE_RANK
from koshiqon.monitoring.entrypoints import dashboard
from koshiqon.monitoring.entrypoints.dashboard import i18n
from koshiqon.monitoring.entrypoints.schemas import INDICATORS

PACKAGE = Path(dashboard.__file__).parent
CYRILLIC = re.compile("[\u0400-\u04ff]")
ASKED = re.compile(r"""\bt\(\s*["']([a-z0-9_-]+)["']\s*\)""")


def test_every_key_asked_for_is_in_the_catalogue() -> None:
    sources = [*PACKAGE.glob("*.py"), *(PACKAGE / "templates").glob("*.html")]
    asked = {key for path in sources for key in ASKED.findall(path.read_text(encoding="utf-8"))}
    assert len(asked) > 30
    assert asked - set(i18n.UI) == set()
    dynamic = (
        {f"scope_{s}" for s in ("external", "internal")}
        | {f"direction_{d}" for d in ("in", "out")}
        | {f"ages_{a}" for a in ("region", "national", "national-from-regions", "none")}
    )
    assert dynamic - set(i18n.UI) == set()
    for key in ("not_found", "forbidden", "bad_request", "session_ended", "bad_token",
                "no_scope", "empty_token", "cross_site", "lower_95", "upper_95"):  # fmt: skip
        assert key in i18n.UI


def test_each_entry_has_three_different_non_empty_languages() -> None:
    tables = [i18n.UI, i18n.INDICATORS, i18n.QUOTA_KINDS, i18n.QUOTA_MEASURES,
              i18n.LEGAL_STATUSES, i18n.PROPOSAL_TYPES, i18n.STAGES]  # fmt: skip
    for table in tables:
        for key, words in table.items():
            assert len(words) == 3, key
            assert all(w.strip() for w in words), key
            assert not CYRILLIC.search(words[2]), key  # the English is English


def test_every_code_shown_has_its_words() -> None:
    assert set(INDICATORS) <= set(i18n.INDICATORS)
    assert set(QUOTA_KINDS) == set(i18n.QUOTA_KINDS)
    assert {s.value for s in LegalStatus} == set(i18n.LEGAL_STATUSES)
    assert {t.value for t in prop.ProposalType} == set(i18n.PROPOSAL_TYPES)
    assert set(STAGE_RANK) == set(i18n.STAGES)


def test_region_names_come_from_the_reference_table_in_three_languages() -> None:
    assert len(kz.REGIONS) == 20
    for region in kz.REGIONS:
        names = [i18n.region_name(region, lang) for lang in i18n.LANGS]
        assert all(names), region.kato
        assert len(set(names)) == 3, region.kato
    assert i18n.place_name("590000000", "ru") == "Северо-Казахстанская область"
    assert i18n.place_name("CHN", "kk") == "CHN"  # a country: its ISO code as sent


def test_an_unknown_language_is_the_default_and_an_unknown_code_shows_as_sent() -> None:
    assert [i18n.pick(x) for x in ("kk", "ru", "en", "xx", None, "EN", "")] == [
        "kk", "ru", "en", "kk", "kk", "kk", "kk"
    ]  # fmt: skip
    assert i18n.Words("en").stage("a-later-stage") == "a-later-stage"
    assert i18n.Words("ru").named("scope_external", "external") == "внешняя"
    assert i18n.Words("ru").named("ages_by-district", "by-district") == "by-district"
