"""Each proposal type's payload (domain/payloads.py): what fits, and every field named when
it does not."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from koshiqon.common.events.proposals import ProposalType as T
from koshiqon.proposals.domain.errors import InvalidPayload
from koshiqon.proposals.domain.payloads import (
    Horizon,
    LabourCategory,
    LabourQuotaPayload,
    RegionalQuotaPayload,
    ResettlementKind,
    TerritoryPayload,
    load_payload,
    parse_payload,
    payload_json,
)

TODAY = date(2026, 3, 1)
PAVLODAR = "550000000"


def parse(type_: T, raw: Any) -> Any:
    return parse_payload(type_, raw, region=PAVLODAR, today=TODAY)


def refused_fields(type_: T, raw: Any) -> set[str]:
    with pytest.raises(InvalidPayload) as caught:
        parse(type_, raw)
    return {e["field"] for e in caught.value.extra["errors"]}


def test_payloads_that_fit_round_trip() -> None:
    cases = [
        (T.TERRITORY_ASSIGNMENT, {"kind": "migrant", "kato": "551010000",
                                  "effective_date": "2026-05-01"}),
        (T.FOREIGN_LABOUR_QUOTA_CHANGE, {"category": "seasonal", "delta": -40, "year": 2026}),
        (T.REGIONAL_QUOTA_CHANGE, {"kind": "kandas", "delta": 5, "horizon": {"year": 2027}}),
        (T.REGIONAL_QUOTA_CHANGE, {"kind": "migrant", "delta": 5,
                                   "horizon": {"year_from": 2026, "year_to": 2030}}),
        (T.MEASURES, {"checklist": [{"measure": "social_adaptation", "plan": "x", "done": True}]}),
    ]  # fmt: skip
    for type_, raw in cases:
        payload = parse(type_, raw)
        assert payload_json(payload) == raw
        assert load_payload(type_, payload_json(payload)) == payload
    assert parse(*cases[0]) == TerritoryPayload(ResettlementKind.MIGRANT, "551010000",
                                                date(2026, 5, 1))  # fmt: skip
    assert parse(*cases[1]) == LabourQuotaPayload(LabourCategory.SEASONAL, -40, 2026)
    assert parse(*cases[3]) == RegionalQuotaPayload(ResettlementKind.MIGRANT, 5,
                                                    Horizon(2026, 2030))  # fmt: skip


@pytest.mark.parametrize(
    ("type_", "raw", "fields"),
    [
        (T.TERRITORY_ASSIGNMENT, {"kind": "tourist", "kato": "591010000",
                                  "effective_date": "1 May"},
         {"payload.kind", "payload.kato", "payload.effective_date"}),
        (T.TERRITORY_EXCLUSION, {"kind": "kandas", "kato": "000000000",
                                 "effective_date": "2026-05-01"}, {"payload.kato"}),
        (T.FOREIGN_LABOUR_QUOTA_CHANGE, {"category": "5", "delta": 0, "year": 2020},
         {"payload.category", "payload.delta", "payload.year"}),
        (T.FOREIGN_LABOUR_QUOTA_CHANGE, {"category": "1", "delta": "10", "year": 2026,
                                         "extra": 1}, {"payload.delta", "payload.extra"}),
        (T.REGIONAL_QUOTA_CHANGE, {"kind": "kandas", "delta": 2_000_000,
                                   "horizon": {"year": 2026}}, {"payload.delta"}),
        (T.REGIONAL_QUOTA_CHANGE, {"kind": "kandas", "delta": 1,
                                   "horizon": {"year_from": 2026, "year_to": 2026}},
         {"payload.horizon.year_to"}),
        (T.REGIONAL_QUOTA_CHANGE, {"kind": "kandas", "delta": 1,
                                   "horizon": {"year_from": 2026, "year_to": 2031}},
         {"payload.horizon.year_to"}),
        (T.REGIONAL_QUOTA_CHANGE, {"kind": "kandas", "delta": 1, "horizon": 2027},
         {"payload.horizon"}),
        (T.MEASURES, {"checklist": []}, {"payload.checklist"}),
        (T.MEASURES, {"checklist": [{"measure": "social_adaptation", "plan": 5, "done": "y"}]},
         {"payload.checklist[0].plan", "payload.checklist[0].done"}),
        (T.MEASURES, {"checklist": [{"measure": "social_adaptation"}] * 2},
         {"payload.checklist"}),
    ],
)  # fmt: skip
def test_every_wrong_field_is_named(type_: T, raw: Any, fields: set[str]) -> None:
    assert refused_fields(type_, raw) == fields


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    assert refused_fields(T.MEASURES, ["attract_qualified_labour"]) == {"payload"}
