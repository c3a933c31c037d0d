"""Statistical inputs with their history, the projections of the event streams, and the §8
outflow alerts; the shared tables as they are today (outbox with its retention index and
parking, processed events, idempotency keys with their effect marks).

The projection tables are named `p_*`: `koshiqon-monitoring rebuild` builds fresh `rb_*`
copies (`CREATE TABLE ... (LIKE p_* INCLUDING ALL)`), replays every topic into them and
swaps them in by renaming, in one transaction. Counters are bigint and never checked
against zero: events of one quota arrive out of order across partitions, and a sum that is
briefly negative adds up once every event is in.

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
    drop_platform_tables,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DATASETS = (
    "'population', 'population-average', 'area', 'vital', 'ethnicity', 'labour-market', 'situation'"
)

TABLES = [
    f"""
    CREATE TABLE statistics (
        dataset text NOT NULL CHECK (dataset IN ({DATASETS})),
        kato char(9) NOT NULL CHECK (kato ~ '^[0-9]{{2}}0000000$'),
        variant text NOT NULL DEFAULT '',
        period_from date NOT NULL,
        period_to date NOT NULL,
        figures jsonb NOT NULL,
        source text NOT NULL CHECK (length(source) BETWEEN 1 AND 500),
        loaded_at timestamptz NOT NULL,
        CONSTRAINT pk_statistics PRIMARY KEY (dataset, kato, variant, period_from, period_to),
        CONSTRAINT ck_statistics_period CHECK (period_to >= period_from)
    )
    """,
    "CREATE INDEX ix_statistics_kato ON statistics (kato, dataset, period_from)",
    """
    CREATE TABLE statistics_history (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dataset text NOT NULL,
        kato char(9) NOT NULL,
        variant text NOT NULL,
        period_from date NOT NULL,
        period_to date NOT NULL,
        figures jsonb NOT NULL,
        source text NOT NULL,
        loaded_at timestamptz NOT NULL,
        replaced_at timestamptz NOT NULL
    )
    """,
    """
    CREATE INDEX ix_statistics_history_key
        ON statistics_history (dataset, kato, variant, period_from, period_to, id)
    """,
    # --- projections (rebuildable) ---
    """
    CREATE TABLE p_persons (
        person_id uuid PRIMARY KEY,
        legal_status text NOT NULL,
        kandas boolean NOT NULL
    )
    """,
    """
    CREATE TABLE p_flows (
        region char(9) NOT NULL,
        month date NOT NULL,
        scope text NOT NULL CHECK (scope IN ('external', 'internal')),
        direction text NOT NULL CHECK (direction IN ('in', 'out')),
        district text NOT NULL,
        legal_status text NOT NULL,
        kandas text NOT NULL CHECK (kandas IN ('kandas', 'other', 'unknown')),
        counterpart text NOT NULL,
        persons bigint NOT NULL,
        last_event_at timestamptz NOT NULL,
        CONSTRAINT pk_p_flows PRIMARY KEY
            (region, month, scope, direction, district, legal_status, kandas, counterpart)
    )
    """,
    """
    CREATE TABLE p_registrations (
        region char(9) NOT NULL,
        month date NOT NULL,
        district text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('permanent', 'temporary')),
        purpose text NOT NULL,
        legal_status text NOT NULL,
        kandas text NOT NULL,
        started bigint NOT NULL DEFAULT 0,
        ended bigint NOT NULL DEFAULT 0,
        last_event_at timestamptz NOT NULL,
        CONSTRAINT pk_p_registrations PRIMARY KEY
            (region, month, district, kind, purpose, legal_status, kandas)
    )
    """,
    """
    CREATE TABLE p_resettlement (
        region char(9) NOT NULL,
        month date NOT NULL,
        category text NOT NULL CHECK (category IN ('kandas', 'migrant')),
        applications bigint NOT NULL DEFAULT 0,
        requested bigint NOT NULL DEFAULT 0,
        approved bigint NOT NULL DEFAULT 0,
        rejected bigint NOT NULL DEFAULT 0,
        completed bigint NOT NULL DEFAULT 0,
        withdrawn bigint NOT NULL DEFAULT 0,
        last_event_at timestamptz NOT NULL,
        CONSTRAINT pk_p_resettlement PRIMARY KEY (region, month, category)
    )
    """,
    """
    CREATE TABLE p_quotas (
        quota_id uuid PRIMARY KEY,
        region char(9) NOT NULL,
        kind text NOT NULL CHECK (kind IN ('kandas', 'migrant', 'foreign_labour')),
        category text NOT NULL,
        year_from integer NOT NULL,
        year_to integer NOT NULL,
        "limit" bigint,
        limit_at timestamptz,
        reserved bigint NOT NULL DEFAULT 0,
        consumed bigint NOT NULL DEFAULT 0,
        last_event_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX ix_p_quotas_region ON p_quotas (region, year_from)",
    """
    CREATE TABLE p_proposals (
        region char(9) NOT NULL,
        month date NOT NULL,
        type text NOT NULL,
        stage text NOT NULL,
        proposals bigint NOT NULL DEFAULT 0,
        last_event_at timestamptz NOT NULL,
        CONSTRAINT pk_p_proposals PRIMARY KEY (region, month, type, stage)
    )
    """,
    # --- §8 alerts (not a projection: what was published stays published) ---
    """
    CREATE TABLE alerts (
        alert_id uuid PRIMARY KEY,
        region char(9) NOT NULL,
        period text NOT NULL CHECK (period IN ('year', 'rolling_12_months')),
        alert_key text NOT NULL,
        period_from date NOT NULL,
        period_to date NOT NULL,
        active boolean NOT NULL,
        figures jsonb NOT NULL,
        raised_at timestamptz NOT NULL,
        cleared_at timestamptz,
        cleared_figures jsonb,
        CONSTRAINT ck_alerts_cleared CHECK (active = (cleared_at IS NULL))
    )
    """,
    "CREATE UNIQUE INDEX uq_alerts_active ON alerts (region, alert_key) WHERE active",
    "CREATE INDEX ix_alerts_region ON alerts (region, raised_at)",
]

DROP = (
    "alerts", "p_proposals", "p_quotas", "p_resettlement", "p_registrations", "p_flows",
    "p_persons", "statistics_history", "statistics",
)  # fmt: skip


def upgrade() -> None:
    create_platform_tables(op)
    add_effect_marks(op)
    add_outbox_retention_index(op)
    add_outbox_parking(op)
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in DROP:
        op.execute(f"DROP TABLE {table}")
    drop_platform_tables(op)
