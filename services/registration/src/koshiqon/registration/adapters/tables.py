"""The registration schema's tables (SQLAlchemy Core). Alembic's revisions create them; this
metadata is what the repository queries and what `env.py` compares against."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    func,
    text,
)

from koshiqon.common.database.tables import new_metadata

metadata = new_metadata()

persons = Table(
    "persons",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("legal_status", String(16), nullable=False),
    Column("iin", String(12)),
    Column("document_number", String(64)),
    Column("document_country", String(3)),
    Column("surname_latin", String(200), nullable=False),
    Column("given_names_latin", String(200), nullable=False),
    Column("surname_cyrillic", String(200)),  # required of citizens only (0003)
    Column("given_names_cyrillic", String(200)),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(8), nullable=False),
    Column("citizenship", String(3)),
    Column("ethnicity", String(100)),
    Column("kandas_certificate_number", String(64)),
    Column("kandas_certificate_date", Date),
    Column("created_in_region", String(9)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("legal_status IN ('citizen', 'foreigner', 'stateless')", name="legal_status"),
    CheckConstraint("legal_status <> 'citizen' OR iin IS NOT NULL", name="citizen_has_iin"),
    CheckConstraint(
        "iin IS NOT NULL OR (document_number IS NOT NULL AND document_country IS NOT NULL)",
        name="identified",
    ),
    CheckConstraint(
        "(kandas_certificate_number IS NULL) = (kandas_certificate_date IS NULL)",
        name="kandas_certificate",
    ),
    CheckConstraint(
        "(surname_cyrillic IS NULL) = (given_names_cyrillic IS NULL)", name="cyrillic_whole"
    ),
    CheckConstraint(
        "legal_status <> 'citizen' OR surname_cyrillic IS NOT NULL",
        name="citizen_has_cyrillic",
    ),
    Index("uq_persons_iin", "iin", unique=True, postgresql_where=text("iin IS NOT NULL")),
    Index(
        "uq_persons_travel_document",
        "document_country",
        "document_number",
        unique=True,
        postgresql_where=text("document_number IS NOT NULL"),
    ),
)

residences = Table(
    "residences",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("person_id", Uuid, ForeignKey("persons.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("kato", String(9), nullable=False),
    Column("region", String(9), nullable=False),
    Column("street", String(200), nullable=False),
    Column("building", String(50), nullable=False),
    Column("apartment", String(50)),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date),
    Column("purpose", String(16)),
    Column("arrived_from", String(3)),
    Column("status", String(16), nullable=False),
    Column("ended_on", Date),
    Column("end_reason", String(16)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('permanent', 'temporary')", name="kind"),
    CheckConstraint("status IN ('active', 'ended')", name="status"),
    CheckConstraint(
        "(kind = 'temporary' AND valid_until IS NOT NULL AND purpose IS NOT NULL) OR "
        "(kind = 'permanent' AND valid_until IS NULL AND purpose IS NULL)",
        name="kind_dates",
    ),
    CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="date_order"),
    CheckConstraint(
        "(status = 'active') = (ended_on IS NULL AND end_reason IS NULL)", name="ended"
    ),
    Index("ix_residences_person_id", "person_id", "valid_from"),
    Index("ix_residences_region", "region", "person_id"),
    # one active permanent registration per person, whatever the concurrency
    Index(
        "uq_residences_active_permanent",
        "person_id",
        unique=True,
        postgresql_where=text("kind = 'permanent' AND status = 'active'"),
    ),
    Index(
        "ix_residences_temporary_due",
        "valid_until",
        postgresql_where=text("kind = 'temporary' AND status = 'active'"),
    ),
)

applications = Table(
    "resettlement_applications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("applicant_id", Uuid, ForeignKey("persons.id"), nullable=False),
    Column("category", String(16), nullable=False),
    Column("target_region", String(9), nullable=False),
    Column("target_year", Integer, nullable=False),
    Column("persons", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("quota_id", Uuid),
    Column("rejection_reason", String(64)),
    Column("closed_reason", String(200)),
    Column("quota_reserved_at", DateTime(timezone=True)),
    Column("quota_denied_at", DateTime(timezone=True)),
    Column("quota_released_at", DateTime(timezone=True)),
    Column("quota_expired_at", DateTime(timezone=True)),
    Column("decided_at", DateTime(timezone=True)),
    Column("settlement", String(9)),
    Column("completed_on", Date),
    Column("withdrawn_at", DateTime(timezone=True)),
    Column("quota_requested_at", DateTime(timezone=True), nullable=False),
    Column("quota_requests", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("category IN ('kandas', 'migrant')", name="category"),
    CheckConstraint(
        "status IN ('pending_quota', 'approved', 'rejected', 'completed', 'withdrawn', 'expired')",
        name="status",
    ),
    CheckConstraint("persons >= 1", name="persons"),
    CheckConstraint("quota_requests >= 1", name="quota_requests"),
    Index("ix_resettlement_applications_list", "requested_at", "id"),
    # the pending applications, by when the quota was last asked (the re-request job)
    Index(
        "ix_resettlement_applications_pending",
        "quota_requested_at",
        "id",
        postgresql_where=text("status = 'pending_quota'"),
    ),
    Index("ix_resettlement_applications_region", "target_region", "requested_at", "id"),
    # one open application per applicant
    Index(
        "uq_resettlement_applications_open",
        "applicant_id",
        unique=True,
        postgresql_where=text("status IN ('pending_quota', 'approved')"),
    ),
)

application_members = Table(
    "resettlement_family_members",
    metadata,
    Column("application_id", Uuid, ForeignKey("resettlement_applications.id"), primary_key=True),
    Column("person_id", Uuid, ForeignKey("persons.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_resettlement_family_members_person_id", "person_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("subject", String(200), nullable=False),
    Column("agency", String(200)),
    Column("region", String(9)),
    Column("person_id", Uuid, nullable=False),
    Column("route", String(300), nullable=False),
    Column("correlation_id", String(128)),
    Index("ix_audit_log_person_id", "person_id", "id"),
)

__all__ = ["application_members", "applications", "audit_log", "metadata", "persons", "residences"]
