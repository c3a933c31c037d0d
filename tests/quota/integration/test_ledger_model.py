"""A hypothesis stateful test of the ledger, on the real PostgreSQL, against a simple model:
reserve / consume / release / adjust in any order, repeats included; after every step the
quota's counters equal the model's and reserved + consumed <= limit."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from contextlib import AsyncExitStack
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from quota.helpers import ACTOR, Clock
from support.services import ServiceSchema, migrated_schema

from koshiqon.common.errors import DomainError
from koshiqon.common.kz import REGIONS
from koshiqon.quota import queries
from koshiqon.quota.bootstrap import MIGRATIONS, sql_bus
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    BelowUsed,
    ReservationConflict,
    ReservationNotFound,
    ReservationState,
)
from koshiqon.quota.domain.model import Category, Kind, Outcome, Period, QuotaSpec, ReleaseReason

pytestmark = pytest.mark.integration

# every example gets a quota of its own: foreign labour needs no designated territory
SLOTS = itertools.product(range(2026, 2100), [r.kato for r in REGIONS], list(Category))


class LedgerMachine(RuleBasedStateMachine):
    loop: ClassVar[asyncio.AbstractEventLoop]
    bus: ClassVar[Bus]
    schema: ClassVar[ServiceSchema]
    apps = Bundle("apps")

    def run(self, command: Any) -> Any:
        return self.loop.run_until_complete(self.bus.handle(command))

    def refused(self, command: Any) -> type[DomainError] | None:
        try:
            self.run(command)
        except DomainError as error:
            return type(error)
        return None

    @initialize(limit=st.integers(1, 30))
    def establish(self, limit: int) -> None:
        year, region, category = next(SLOTS)
        self.year, self.region, self.category = year, region, category
        spec = QuotaSpec.of(kind=Kind.FOREIGN_LABOUR, region=region, period=Period.of(year),
                            category=category, limit=limit)  # fmt: skip
        self.quota_id = self.run(c.EstablishQuota(spec, actor=ACTOR)).id
        self.limit = limit
        self.status: dict[uuid.UUID, str] = {}
        self.persons: dict[uuid.UUID, int] = {}

    def used(self, *statuses: str) -> int:
        return sum(self.persons[a] for a, s in self.status.items() if s in statuses)

    @rule(target=apps, persons=st.integers(1, 8))
    def reserve_new(self, persons: int) -> uuid.UUID:
        app = uuid.uuid4()
        self._reserve(app, persons)
        return app

    @rule(app=apps, persons=st.integers(1, 8))
    def reserve_again(self, app: uuid.UUID, persons: int) -> None:
        self._reserve(app, persons)

    def _reserve(self, app: uuid.UUID, persons: int) -> None:
        command = c.ReserveQuota(app, Kind.FOREIGN_LABOUR, self.region, self.year, persons,
                                 category=self.category, actor=ACTOR)  # fmt: skip
        if app in self.status and persons != self.persons[app]:  # another request: refused
            assert self.refused(command) is ReservationConflict
            return
        result = self.run(command)
        if app in self.status:  # the first outcome again
            first = Outcome.DENIED if self.status[app] == "denied" else Outcome.RESERVED
            assert result.outcome is first
            return
        fits = self.used("reserved", "consumed") + persons <= self.limit
        assert result.outcome is (Outcome.RESERVED if fits else Outcome.DENIED)
        self.status[app] = "reserved" if fits else "denied"
        self.persons[app] = persons

    @rule(app=apps)
    def consume(self, app: uuid.UUID) -> None:
        assert self.refused(c.ConsumeReservation(app, actor=ACTOR)) is None
        if self.status[app] == "reserved":
            self.status[app] = "consumed"

    @rule(app=apps)
    def release(self, app: uuid.UUID) -> None:
        error = self.refused(c.ReleaseReservation(app, ReleaseReason.CANCELLED, actor=ACTOR))
        if self.status[app] == "consumed":
            assert error is ReservationState
            return
        assert error is None
        if self.status[app] == "reserved":
            self.status[app] = "released"

    @rule()
    def release_unknown(self) -> None:
        error = self.refused(
            c.ReleaseReservation(uuid.uuid4(), ReleaseReason.CANCELLED, actor=ACTOR)
        )
        assert error is ReservationNotFound

    @rule(delta=st.integers(-20, 20).filter(bool))
    def adjust(self, delta: int) -> None:
        error = self.refused(
            c.AdjustQuota(self.quota_id, "model", "test", delta=delta, actor=ACTOR)
        )
        fits = self.limit + delta >= self.used("reserved", "consumed")
        assert error is (None if fits else BelowUsed)
        if fits:
            self.limit += delta

    @invariant()
    def counters_match_the_model(self) -> None:
        quota = self.loop.run_until_complete(queries.get_quota(self.schema.engine, self.quota_id))
        assert (quota.limit, quota.reserved, quota.consumed) == (
            self.limit, self.used("reserved"), self.used("consumed"),
        )  # fmt: skip
        assert quota.reserved + quota.consumed <= quota.limit


def test_the_ledger_behaves_like_its_model(admin_database_url: str) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    schema = loop.run_until_complete(
        stack.enter_async_context(migrated_schema(admin_database_url, MIGRATIONS))
    )
    try:
        LedgerMachine.loop, LedgerMachine.schema = loop, schema
        LedgerMachine.bus = sql_bus(schema.engine, now=Clock())
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(max_examples=40, stateful_step_count=25, deadline=None,
                              derandomize=True,
                              suppress_health_check=[HealthCheck.too_slow]),
        )  # fmt: skip
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
