"""outbox: attempts, last_error and parked_at, so a row that can never be published is
parked after the relay's max_attempts instead of blocking the rows behind it

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from koshiqon.common.migrations import add_outbox_parking, drop_outbox_parking

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_parking(op)


def downgrade() -> None:
    drop_outbox_parking(op)
