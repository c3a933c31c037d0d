"""Quotas, their history, territories, the reservation ledger and applied proposals.

The ledger's invariant lives here: `reserved + consumed <= limit` is a CHECK constraint, so
no code path, however wrong, can oversubscribe a quota.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from alembic import op

from koshiqon.common.migrations import create_platform_tables, drop_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = [
    """
    CREATE TABLE quotas (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('kandas', 'migrant', 'foreign_labour')),
        region char(9) NOT NULL CHECK (region ~ '^[0-9]{2}0000000$'),
        year_from integer NOT NULL,
        year_to integer NOT NULL,
        category text CHECK (category IN ('1', '2', '3', '4', 'seasonal')),
        "limit" integer NOT NULL CHECK ("limit" >= 0),
        reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        consumed integer NOT NULL DEFAULT 0 CHECK (consumed >= 0),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
        announced_90 boolean NOT NULL DEFAULT false,
        announced_100 boolean NOT NULL DEFAULT false,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_quotas_within_limit CHECK (reserved + consumed <= "limit"),
        CONSTRAINT ck_quotas_period CHECK (year_to >= year_from AND year_to - year_from < 5),
        CONSTRAINT ck_quotas_category CHECK ((kind = 'foreign_labour') = (category IS NOT NULL))
    )
    """,
    """
    CREATE UNIQUE INDEX uq_quotas_active ON quotas
        (kind, region, year_from, year_to, coalesce(category, '')) WHERE status = 'active'
    """,
    "CREATE INDEX ix_quotas_lookup ON quotas (kind, region, year_from, year_to)",
    """
    CREATE TABLE quota_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        quota_id uuid NOT NULL REFERENCES quotas (id),
        action text NOT NULL CHECK (action IN ('established', 'increased', 'reduced')),
        previous_limit integer,
        "limit" integer NOT NULL,
        delta integer NOT NULL,
        reason text,
        reference text,
        proposal_id uuid,
        actor text,
        recorded_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX ix_quota_history_quota ON quota_history (quota_id, id)",
    """
    CREATE TABLE territories (
        id uuid PRIMARY KEY,
        kato char(9) NOT NULL CHECK (kato ~ '^[0-9]{9}$'),
        region char(9) NOT NULL CHECK (region ~ '^[0-9]{2}0000000$'),
        kind text NOT NULL CHECK (kind IN ('kandas', 'migrant')),
        effective_from date NOT NULL,
        decision text NOT NULL,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'excluded')),
        excluded_from date,
        exclusion_decision text,
        proposal_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_territories_exclusion CHECK (
            (status = 'excluded') = (excluded_from IS NOT NULL AND exclusion_decision IS NOT NULL))
    )
    """,
    "CREATE UNIQUE INDEX uq_territories_active ON territories (kato, kind) WHERE status = 'active'",
    "CREATE INDEX ix_territories_region ON territories (region, kind)",
    """
    CREATE TABLE reservations (
        application_id uuid PRIMARY KEY,
        quota_id uuid REFERENCES quotas (id),
        kind text NOT NULL,
        region char(9) NOT NULL,
        year integer NOT NULL,
        category text,
        persons integer NOT NULL CHECK (persons > 0),
        status text NOT NULL CHECK (status IN
            ('pending', 'reserved', 'consumed', 'released', 'expired', 'denied', 'withdrawn')),
        outcome text CHECK (outcome IN ('reserved', 'denied', 'withdrawn')),
        denial_reason text CHECK (denial_reason IN ('no_quota', 'not_designated', 'exhausted')),
        remaining_at_denial integer,
        release_reason text CHECK (release_reason IN ('withdrawn', 'cancelled')),
        requested_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_reservations_quota CHECK (
            status IN ('pending', 'denied', 'withdrawn') OR quota_id IS NOT NULL)
    )
    """,
    "CREATE INDEX ix_reservations_quota ON reservations (quota_id, status)",
    """
    CREATE TABLE applied_proposals (
        proposal_id uuid PRIMARY KEY,
        outcome text NOT NULL CHECK (outcome IN ('applied', 'refused')),
        applied_at timestamptz NOT NULL DEFAULT now()
    )
    """,
]


def upgrade() -> None:
    create_platform_tables(op)
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in ("applied_proposals", "reservations", "territories", "quota_history", "quotas"):
        op.execute(f"DROP TABLE {table}")
    drop_platform_tables(op)
