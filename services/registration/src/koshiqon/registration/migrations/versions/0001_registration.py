"""persons, residence registrations, resettlement applications, audit of reads

Revision ID: 0001
Revises:
"""

# ruff: noqa: E501  (DDL written out as PostgreSQL receives it)

from alembic import op
from sqlalchemy import text

from koshiqon.common.migrations import create_platform_tables, drop_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
    "audit_log",
    "resettlement_family_members",
    "resettlement_applications",
    "residences",
    "persons",
)

DDL = (
    """
    CREATE TABLE persons (
        id UUID NOT NULL,
        legal_status VARCHAR(16) NOT NULL,
        iin VARCHAR(12),
        document_number VARCHAR(64),
        document_country VARCHAR(3),
        surname_latin VARCHAR(200) NOT NULL,
        given_names_latin VARCHAR(200) NOT NULL,
        surname_cyrillic VARCHAR(200) NOT NULL,
        given_names_cyrillic VARCHAR(200) NOT NULL,
        birth_date DATE NOT NULL,
        sex VARCHAR(8) NOT NULL,
        citizenship VARCHAR(3),
        ethnicity VARCHAR(100),
        kandas_certificate_number VARCHAR(64),
        kandas_certificate_date DATE,
        created_in_region VARCHAR(9),
        created_at TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT pk_persons PRIMARY KEY (id),
        CONSTRAINT ck_persons_legal_status CHECK (legal_status IN ('citizen', 'foreigner', 'stateless')),
        CONSTRAINT ck_persons_citizen_has_iin CHECK (legal_status <> 'citizen' OR iin IS NOT NULL),
        CONSTRAINT ck_persons_identified CHECK (iin IS NOT NULL OR (document_number IS NOT NULL AND document_country IS NOT NULL)),
        CONSTRAINT ck_persons_kandas_certificate CHECK ((kandas_certificate_number IS NULL) = (kandas_certificate_date IS NULL))
    )
    """,
    """
    CREATE UNIQUE INDEX uq_persons_iin ON persons (iin) WHERE iin IS NOT NULL
    """,
    """
    CREATE UNIQUE INDEX uq_persons_travel_document ON persons (document_country, document_number) WHERE document_number IS NOT NULL
    """,
    """
    CREATE TABLE residences (
        id UUID NOT NULL,
        person_id UUID NOT NULL,
        kind VARCHAR(16) NOT NULL,
        kato VARCHAR(9) NOT NULL,
        region VARCHAR(9) NOT NULL,
        street VARCHAR(200) NOT NULL,
        building VARCHAR(50) NOT NULL,
        apartment VARCHAR(50),
        valid_from DATE NOT NULL,
        valid_until DATE,
        purpose VARCHAR(16),
        arrived_from VARCHAR(3),
        status VARCHAR(16) NOT NULL,
        ended_on DATE,
        end_reason VARCHAR(16),
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_residences PRIMARY KEY (id),
        CONSTRAINT ck_residences_kind CHECK (kind IN ('permanent', 'temporary')),
        CONSTRAINT ck_residences_status CHECK (status IN ('active', 'ended')),
        CONSTRAINT ck_residences_kind_dates CHECK ((kind = 'temporary' AND valid_until IS NOT NULL AND purpose IS NOT NULL) OR (kind = 'permanent' AND valid_until IS NULL AND purpose IS NULL)),
        CONSTRAINT ck_residences_date_order CHECK (valid_until IS NULL OR valid_until >= valid_from),
        CONSTRAINT ck_residences_ended CHECK ((status = 'active') = (ended_on IS NULL AND end_reason IS NULL)),
        CONSTRAINT fk_residences_person_id_persons FOREIGN KEY(person_id) REFERENCES persons (id)
    )
    """,
    """
    CREATE INDEX ix_residences_person_id ON residences (person_id, valid_from)
    """,
    """
    CREATE INDEX ix_residences_region ON residences (region, person_id)
    """,
    """
    CREATE INDEX ix_residences_temporary_due ON residences (valid_until) WHERE kind = 'temporary' AND status = 'active'
    """,
    """
    CREATE UNIQUE INDEX uq_residences_active_permanent ON residences (person_id) WHERE kind = 'permanent' AND status = 'active'
    """,
    """
    CREATE TABLE resettlement_applications (
        id UUID NOT NULL,
        applicant_id UUID NOT NULL,
        category VARCHAR(16) NOT NULL,
        target_region VARCHAR(9) NOT NULL,
        target_year INTEGER NOT NULL,
        persons INTEGER NOT NULL,
        status VARCHAR(16) NOT NULL,
        requested_at TIMESTAMP WITH TIME ZONE NOT NULL,
        quota_id UUID,
        rejection_reason VARCHAR(64),
        closed_reason VARCHAR(200),
        quota_reserved_at TIMESTAMP WITH TIME ZONE,
        quota_denied_at TIMESTAMP WITH TIME ZONE,
        quota_released_at TIMESTAMP WITH TIME ZONE,
        quota_expired_at TIMESTAMP WITH TIME ZONE,
        decided_at TIMESTAMP WITH TIME ZONE,
        settlement VARCHAR(9),
        completed_on DATE,
        withdrawn_at TIMESTAMP WITH TIME ZONE,
        CONSTRAINT pk_resettlement_applications PRIMARY KEY (id),
        CONSTRAINT ck_resettlement_applications_category CHECK (category IN ('kandas', 'migrant')),
        CONSTRAINT ck_resettlement_applications_status CHECK (status IN ('pending_quota', 'approved', 'rejected', 'completed', 'withdrawn', 'expired')),
        CONSTRAINT ck_resettlement_applications_persons CHECK (persons >= 1),
        CONSTRAINT fk_resettlement_applications_applicant_id_persons FOREIGN KEY(applicant_id) REFERENCES persons (id)
    )
    """,
    """
    CREATE INDEX ix_resettlement_applications_list ON resettlement_applications (requested_at, id)
    """,
    """
    CREATE INDEX ix_resettlement_applications_region ON resettlement_applications (target_region, requested_at, id)
    """,
    """
    CREATE UNIQUE INDEX uq_resettlement_applications_open ON resettlement_applications (applicant_id) WHERE status IN ('pending_quota', 'approved')
    """,
    """
    CREATE TABLE resettlement_family_members (
        application_id UUID NOT NULL,
        person_id UUID NOT NULL,
        position INTEGER NOT NULL,
        CONSTRAINT pk_resettlement_family_members PRIMARY KEY (application_id, person_id),
        CONSTRAINT fk_resettlement_family_members_application_id_resettlem_d5a2 FOREIGN KEY(application_id) REFERENCES resettlement_applications (id),
        CONSTRAINT fk_resettlement_family_members_person_id_persons FOREIGN KEY(person_id) REFERENCES persons (id)
    )
    """,
    """
    CREATE INDEX ix_resettlement_family_members_person_id ON resettlement_family_members (person_id)
    """,
    """
    CREATE TABLE audit_log (
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        subject VARCHAR(200) NOT NULL,
        agency VARCHAR(200),
        region VARCHAR(9),
        person_id UUID NOT NULL,
        route VARCHAR(300) NOT NULL,
        correlation_id VARCHAR(128),
        CONSTRAINT pk_audit_log PRIMARY KEY (id)
    )
    """,
    """
    CREATE INDEX ix_audit_log_person_id ON audit_log (person_id, id)
    """,
)


def upgrade() -> None:
    create_platform_tables(op)
    for statement in DDL:
        op.execute(text(statement))


def downgrade() -> None:
    for table in TABLES:
        op.execute(text(f"DROP TABLE {table}"))
    drop_platform_tables(op)
