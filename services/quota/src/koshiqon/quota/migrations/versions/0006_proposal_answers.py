"""applied_proposals.answer: the events quota answered an approved proposal with (type,
subject and data of each event naming the proposal), so that a repeated approval -- the
proposals service sends a stuck one again -- gets the same answer again (NULL for proposals
answered before this revision: a repeat of those publishes nothing, as before)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE applied_proposals ADD COLUMN answer jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE applied_proposals DROP COLUMN answer")
