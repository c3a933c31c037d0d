"""The state of each proposal (`p_proposal_states`): its region, type and the stage its
latest event put it in, for the dashboard's list of a region's proposals. `p_proposals`
counts the stage events by month; this one keeps one row per proposal.

A projection like the others (`p_*`, rebuilt as `rb_*`): the stage is the one of the event
with the latest time, a tie going to the later step of the procedure (`stage_rank`), so any
order of arrival and a replay give the same row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE p_proposal_states (
            proposal_id uuid NOT NULL,
            region char(9) NOT NULL,
            type text NOT NULL,
            stage text NOT NULL,
            stage_rank smallint NOT NULL,
            stage_at timestamptz NOT NULL,
            first_at timestamptz NOT NULL,
            last_event_at timestamptz NOT NULL,
            CONSTRAINT pk_p_proposal_states PRIMARY KEY (proposal_id)
        )
        """
    )
    op.execute("CREATE INDEX ix_p_proposal_states_region ON p_proposal_states (region, stage_at)")


def downgrade() -> None:
    op.execute("DROP TABLE p_proposal_states")
