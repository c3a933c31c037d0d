"""The proposals service's tables, as migrations/versions create them (the migrations are the
source of truth; this metadata is what Alembic compares them with, and what the repositories
build their statements on: SQLAlchemy Core constructs, so the JSONB columns come and go as
Python values)."""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from koshiqon.common.database.tables import new_metadata

metadata = new_metadata()
NULLABLE_JSONB = JSONB(none_as_null=True)  # None is SQL NULL, not the JSON null

proposals = Table(
    "proposals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("region", CHAR(9), nullable=False),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("justification", Text, nullable=False),
    Column("documents", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("evidence_status", Text),
    Column("evidence", NULLABLE_JSONB),
    Column("evidence_retrieved_at", DateTime(timezone=True)),
    Column("submitted_at", DateTime(timezone=True)),
    Column("review_due_at", DateTime(timezone=True)),
    Column("approved_delta", Integer),
    Column("effect", NULLABLE_JSONB),
    Column("approved_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    Column("failure_reason", Text),
    Column("failure_detail", Text),
    Column("alert_id", Uuid),
    Column("alert", NULLABLE_JSONB),
    UniqueConstraint("alert_id", name="uq_proposals_alert_id"),
)

proposal_history = Table(
    "proposal_history",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("proposal_id", Uuid, ForeignKey("proposals.id"), nullable=False),
    Column("action", Text, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("agency", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("comment", Text),
    Column("reason", Text),
    Column("details", NULLABLE_JSONB),
)

regional_rules = Table(
    "regional_rules",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("region", CHAR(9), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decision_number", Text),
    Column("decision_date", Date),
    Column("approved_at", DateTime(timezone=True)),
    Column("superseded_at", DateTime(timezone=True)),
    UniqueConstraint("region", "version", name="uq_regional_rules_version"),
)
