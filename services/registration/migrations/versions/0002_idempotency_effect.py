"""idempotency_keys.effect_committed: a keyed request whose effect committed is not run again

`IF NOT EXISTS`: revision 0001 creates the platform tables from the current definitions in
`koshiqon.common.db`, which already carry the column on a database built from scratch.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE idempotency_keys"
        " ADD COLUMN IF NOT EXISTS effect_committed boolean NOT NULL DEFAULT false"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE idempotency_keys DROP COLUMN IF EXISTS effect_committed")
