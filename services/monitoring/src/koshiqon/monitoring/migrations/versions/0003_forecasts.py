"""The §9 forecast last published for each region (`forecasts`): what a new import is
compared with, so `forecast-published` goes out only when the figures change a forecast. Not
a projection (it follows the statistical inputs, not the event streams): a rebuild leaves it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE forecasts (
            region char(9) NOT NULL CHECK (region ~ '^[0-9]{2}0000000$'),
            base_date date NOT NULL,
            method text NOT NULL,
            points jsonb NOT NULL,
            published_at timestamptz NOT NULL,
            CONSTRAINT pk_forecasts PRIMARY KEY (region)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE forecasts")
