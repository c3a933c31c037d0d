"""outbox: a partial index of published rows by age, for the relay's retention delete

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from koshiqon.common.migrations import add_outbox_retention_index, drop_outbox_retention_index

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_retention_index(op)


def downgrade() -> None:
    drop_outbox_retention_index(op)
