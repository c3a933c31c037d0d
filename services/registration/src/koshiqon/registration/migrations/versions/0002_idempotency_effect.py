"""idempotency_keys.effect_committed: a keyed request whose effect committed is not run again

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from koshiqon.common.migrations import add_effect_marks, drop_effect_marks

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_effect_marks(op)


def downgrade() -> None:
    drop_effect_marks(op)
