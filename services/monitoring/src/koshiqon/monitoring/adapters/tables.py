"""The monitoring service's tables, as migrations/versions create them (the migrations are the
source of truth; this metadata is what Alembic compares them with). The repositories and
queries write their SQL with `text()`.

`PROJECTION_TABLES` are the rebuildable ones: live under the prefix `p_`, rebuilt under
`rb_` and swapped in (adapters/rebuild.py)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from koshiqon.common.database.tables import new_metadata

metadata = new_metadata()

LIVE, REBUILD = "p_", "rb_"
PROJECTION_TABLES = (
    "persons", "flows", "registrations", "resettlement", "quotas", "proposals", "proposal_states",
)  # fmt: skip

statistics = Table(
    "statistics",
    metadata,
    Column("dataset", Text, primary_key=True),
    Column("kato", String(9), primary_key=True),
    Column("variant", Text, primary_key=True),
    Column("period_from", Date, primary_key=True),
    Column("period_to", Date, primary_key=True),
    Column("figures", JSONB, nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)

statistics_history = Table(
    "statistics_history",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("dataset", Text, nullable=False),
    Column("kato", String(9), nullable=False),
    Column("variant", Text, nullable=False),
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    Column("figures", JSONB, nullable=False),
    Column("source", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("replaced_at", DateTime(timezone=True), nullable=False),
)

p_persons = Table(
    "p_persons",
    metadata,
    Column("person_id", Uuid, primary_key=True),
    Column("legal_status", Text, nullable=False),
    Column("kandas", Boolean, nullable=False),
)

p_flows = Table(
    "p_flows",
    metadata,
    Column("region", String(9), primary_key=True),
    Column("month", Date, primary_key=True),
    *(
        Column(name, Text, primary_key=True)
        for name in ("scope", "direction", "district", "legal_status", "kandas", "counterpart")
    ),
    Column("persons", BigInteger, nullable=False),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
)

p_registrations = Table(
    "p_registrations",
    metadata,
    Column("region", String(9), primary_key=True),
    Column("month", Date, primary_key=True),
    *(
        Column(name, Text, primary_key=True)
        for name in ("district", "kind", "purpose", "legal_status", "kandas")
    ),
    Column("started", BigInteger, nullable=False),
    Column("ended", BigInteger, nullable=False),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
)

p_resettlement = Table(
    "p_resettlement",
    metadata,
    Column("region", String(9), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("category", Text, primary_key=True),
    *(
        Column(name, BigInteger, nullable=False)
        for name in ("applications", "requested", "approved", "rejected", "completed", "withdrawn")
    ),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
)

p_quotas = Table(
    "p_quotas",
    metadata,
    Column("quota_id", Uuid, primary_key=True),
    Column("region", String(9), nullable=False),
    Column("kind", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("year_from", Integer, nullable=False),
    Column("year_to", Integer, nullable=False),
    Column("limit", BigInteger),
    Column("limit_at", DateTime(timezone=True)),
    Column("reserved", BigInteger, nullable=False),
    Column("consumed", BigInteger, nullable=False),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
)

p_proposals = Table(
    "p_proposals",
    metadata,
    Column("region", String(9), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("type", Text, primary_key=True),
    Column("stage", Text, primary_key=True),
    Column("proposals", BigInteger, nullable=False),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
)

p_proposal_states = Table(
    "p_proposal_states",
    metadata,
    Column("proposal_id", Uuid, primary_key=True),
    Column("region", String(9), nullable=False),
    Column("type", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("stage_rank", SmallInteger, nullable=False),
    Column("stage_at", DateTime(timezone=True), nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
    Column("last_event_at", DateTime(timezone=True), nullable=False),
    Index("ix_p_proposal_states_region", "region", "stage_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", Uuid, primary_key=True),
    Column("region", String(9), nullable=False),
    Column("period", Text, nullable=False),
    Column("alert_key", Text, nullable=False),
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("figures", JSONB, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("cleared_at", DateTime(timezone=True)),
    Column("cleared_figures", JSONB),
)

forecasts = Table(
    "forecasts",
    metadata,
    Column("region", String(9), primary_key=True),
    Column("base_date", Date, nullable=False),
    Column("method", Text, nullable=False),
    Column("points", JSONB, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
)
