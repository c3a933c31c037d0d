"""The quota service's tables, as migrations/versions create them (the migrations are the
source of truth; this metadata is what Alembic compares them with). The repositories and
queries write their SQL with `text()`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from koshiqon.common.database.tables import new_metadata

metadata = new_metadata()

quotas = Table(
    "quotas",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String, nullable=False),
    Column("region", String(9), nullable=False),
    Column("year_from", Integer, nullable=False),
    Column("year_to", Integer, nullable=False),
    Column("category", String),
    Column("limit", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("consumed", Integer, nullable=False),
    Column("status", String, nullable=False),
    Column("announced_90", Boolean, nullable=False),
    Column("announced_100", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint('reserved + consumed <= "limit"', name="within_limit"),
)

quota_history = Table(
    "quota_history",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("quota_id", Uuid, ForeignKey("quotas.id"), nullable=False),
    Column("action", String, nullable=False),
    Column("previous_limit", Integer),
    Column("limit", Integer, nullable=False),
    Column("delta", Integer, nullable=False),
    Column("reason", String),
    Column("reference", String),
    Column("proposal_id", Uuid),
    Column("actor", String),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

territories = Table(
    "territories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kato", String(9), nullable=False),
    Column("region", String(9), nullable=False),
    Column("kind", String, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("decision", String, nullable=False),
    Column("status", String, nullable=False),
    Column("excluded_from", Date),
    Column("exclusion_decision", String),
    Column("proposal_id", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

reservations = Table(
    "reservations",
    metadata,
    Column("application_id", Uuid, primary_key=True),
    Column("quota_id", Uuid, ForeignKey("quotas.id")),
    Column("kind", String, nullable=False),
    Column("region", String(9), nullable=False),
    Column("year", Integer, nullable=False),
    Column("category", String),
    Column("persons", Integer, nullable=False),
    Column("status", String, nullable=False),
    Column("outcome", String),
    Column("denial_reason", String),
    Column("remaining_at_denial", Integer),
    Column("release_reason", String),
    Column("remaining_at_reservation", Integer),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

applied_proposals = Table(
    "applied_proposals",
    metadata,
    Column("proposal_id", Uuid, primary_key=True),
    Column("outcome", String, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("answer", JSONB),
)
