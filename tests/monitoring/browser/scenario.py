"""The figures the dashboard's tests look at, loaded as the service is fed in production:
the public reference figures through the service's own loader (the bus, as
`koshiqon-monitoring load-reference` does), one region's births and deaths through the API,
and the other services' events published on the test's own topics for the real worker to
project: arrivals from abroad and departures, moves between regions, kandas quotas
established and used, a resettlement completed, proposals at several stages, and the §8
alert the departures raise in North Kazakhstan."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from monitoring.helpers import ASTANA, NORTH_KAZ, PAVLODAR, token
from monitoring.streams import (
    Topics,
    emigrated,
    handled,
    immigrated,
    moved,
    produce,
    proposal_events,
    quota_events,
    registered,
    resettlement,
)
from support.kafka import wait_for
from support.reference import DATA
from support.services import ServiceSchema

from koshiqon.common.events.envelope import Envelope
from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bus import Bus

ALMATY = "750000000"
PERIOD = "2024"
MONTH = "2024-01"


async def populate(
    client: httpx.AsyncClient, bus: Bus, bootstrap: str, topics: Topics, schema: ServiceSchema
) -> None:
    await load_reference(bus, DATA)
    rows = [{"kato": NORTH_KAZ, "period": f"2024-{m:02d}", "births": 10, "deaths": 10}
            for m in range(1, 13)]  # fmt: skip
    response = await client.post(
        "/v1/statistics/vital", json={"source": "akimat of North Kazakhstan", "rows": rows},
        headers=token(),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    kandas = [uuid.uuid4() for _ in range(3)]
    registration: list[Envelope] = [registered(p, kandas=True) for p in kandas]
    for i, person in enumerate(kandas):
        registration.append(immigrated(person, ASTANA, country="CHN", on=date(2024, 1 + i, 10)))
    registration += [
        immigrated(uuid.uuid4(), PAVLODAR, country="UZB", on=date(2024, 2, 3)),
        immigrated(uuid.uuid4(), PAVLODAR, country="RUS", on=date(2024, 1, 21)),
        *(emigrated(uuid.uuid4(), NORTH_KAZ, on=date(2024, m, 5)) for m in (1, 1, 2, 3)),
        moved(uuid.uuid4(), NORTH_KAZ, ASTANA, on=date(2024, 1, 15)),
        moved(uuid.uuid4(), NORTH_KAZ, ASTANA, on=date(2024, 2, 15)),
        moved(uuid.uuid4(), PAVLODAR, ALMATY, on=date(2024, 3, 1)),
    ]
    application = uuid.uuid4()
    registration += resettlement(application, PAVLODAR, 4)
    quotas: list[Envelope] = []
    for region in (PAVLODAR, NORTH_KAZ, ASTANA):
        ledger = quota_events(uuid.uuid4(), application if region == PAVLODAR else uuid.uuid4(),
                              region)  # fmt: skip
        quotas += [ledger["established"], ledger["adjusted"], ledger["reserved"]]
        if region == PAVLODAR:
            quotas.append(ledger["consumed"])
    proposals = proposal_events(PAVLODAR) + proposal_events(NORTH_KAZ)[:1]
    for topic, events in ((topics.registration, registration), (topics.quota, quotas),
                          (topics.proposals, proposals)):  # fmt: skip
        await produce(bootstrap, topic, events)
    await wait_for(handled(schema, registration + quotas + proposals), timeout=60)
