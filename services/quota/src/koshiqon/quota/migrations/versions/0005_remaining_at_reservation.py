"""reservations.remaining_at_reservation: the persons a quota had left right after a granted
reservation, as its quota-reserved event said, so that a repeated request re-publishes the
event with the same figures (NULL for reservations granted before this revision)

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE reservations ADD COLUMN remaining_at_reservation integer")


def downgrade() -> None:
    op.execute("ALTER TABLE reservations DROP COLUMN remaining_at_reservation")
