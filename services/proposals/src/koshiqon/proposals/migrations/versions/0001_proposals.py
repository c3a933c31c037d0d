"""Proposals and their history, regional rules; the shared tables as they are today (this
service's history begins after the outbox's parking and retention index and the idempotency
effect marks, so its first revision creates them with the rest).

One approved version of a region's rules at a time is a unique partial index; one measures
proposal per outflow alert is a unique alert_id.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from alembic import op

from koshiqon.common.migrations import (
    add_effect_marks,
    add_outbox_parking,
    add_outbox_retention_index,
    create_platform_tables,
    drop_effect_marks,
    drop_outbox_parking,
    drop_outbox_retention_index,
    drop_platform_tables,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = (
    "'draft', 'submitted', 'under_review', 'approved', 'rejected', 'returned', 'edited', "
    "'withdrawn', 'applied', 'application_failed'"
)
TYPES = (
    "'territory_assignment', 'territory_exclusion', 'foreign_labour_quota_change', "
    "'regional_quota_change', 'measures'"
)

TABLES = [
    f"""
    CREATE TABLE proposals (
        id uuid PRIMARY KEY,
        region char(9) NOT NULL CHECK (region ~ '^[0-9]{{2}}0000000$'),
        type text NOT NULL CHECK (type IN ({TYPES})),
        status text NOT NULL CHECK (status IN ({STATUSES})),
        payload jsonb NOT NULL,
        justification text NOT NULL,
        documents jsonb NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        evidence_status text CHECK (evidence_status IN ('pending', 'frozen')),
        evidence jsonb,
        evidence_retrieved_at timestamptz,
        submitted_at timestamptz,
        review_due_at timestamptz,
        approved_delta integer CHECK (approved_delta <> 0),
        effect jsonb,
        approved_at timestamptz,
        published_at timestamptz,
        failure_reason text,
        failure_detail text,
        alert_id uuid,
        alert jsonb,
        CONSTRAINT uq_proposals_alert_id UNIQUE (alert_id),
        CONSTRAINT ck_proposals_frozen CHECK (
            (evidence_status = 'frozen') = (evidence IS NOT NULL)),
        CONSTRAINT ck_proposals_measures_alert CHECK (alert_id IS NULL OR type = 'measures')
    )
    """,
    "CREATE INDEX ix_proposals_region ON proposals (region, id)",
    "CREATE INDEX ix_proposals_status ON proposals (status, id)",
    """CREATE INDEX ix_proposals_evidence_pending ON proposals (submitted_at)
        WHERE evidence_status = 'pending'""",
    "CREATE INDEX ix_proposals_approved ON proposals (approved_at) WHERE status = 'approved'",
    f"""
    CREATE TABLE proposal_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        proposal_id uuid NOT NULL REFERENCES proposals (id),
        action text NOT NULL,
        from_status text CHECK (from_status IN ({STATUSES})),
        to_status text NOT NULL CHECK (to_status IN ({STATUSES})),
        actor text NOT NULL,
        agency text,
        at timestamptz NOT NULL,
        comment text,
        reason text,
        details jsonb
    )
    """,
    "CREATE INDEX ix_proposal_history_proposal ON proposal_history (proposal_id, id)",
    """
    CREATE TABLE regional_rules (
        id uuid PRIMARY KEY,
        region char(9) NOT NULL CHECK (region ~ '^[0-9]{2}0000000$'),
        version integer NOT NULL CHECK (version >= 1),
        title text NOT NULL,
        text text NOT NULL,
        status text NOT NULL CHECK (status IN ('draft', 'approved', 'superseded')),
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        decision_number text,
        decision_date date,
        approved_at timestamptz,
        superseded_at timestamptz,
        CONSTRAINT uq_regional_rules_version UNIQUE (region, version),
        CONSTRAINT ck_regional_rules_decision CHECK (
            (status = 'draft') = (decision_number IS NULL AND approved_at IS NULL))
    )
    """,
    """CREATE UNIQUE INDEX uq_regional_rules_in_force ON regional_rules (region)
        WHERE status = 'approved'""",
]


def upgrade() -> None:
    create_platform_tables(op)
    add_effect_marks(op)
    add_outbox_retention_index(op)
    add_outbox_parking(op)
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in ("regional_rules", "proposal_history", "proposals"):
        op.execute(f"DROP TABLE {table}")
    drop_outbox_parking(op)
    drop_outbox_retention_index(op)
    drop_effect_marks(op)
    drop_platform_tables(op)
