"""resettlement_applications: when the quota was last asked, and how many times

An application still pending_quota after REGISTRATION_PENDING_QUOTA_AFTER_SECONDS is asked
of the quota service again (issue 12 item 12): quota_requested_at is when it was last asked
(the application's requested_at for the rows that exist), quota_requests how many times;
a partial index finds the pending ones in the order they were last asked.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
from sqlalchemy import text

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = (
    "ALTER TABLE resettlement_applications ADD COLUMN quota_requested_at TIMESTAMP WITH TIME ZONE",
    "UPDATE resettlement_applications SET quota_requested_at = requested_at",
    "ALTER TABLE resettlement_applications ALTER COLUMN quota_requested_at SET NOT NULL",
    "ALTER TABLE resettlement_applications ADD COLUMN quota_requests INTEGER DEFAULT 1 NOT NULL",
    "ALTER TABLE resettlement_applications ADD CONSTRAINT"
    " ck_resettlement_applications_quota_requests CHECK (quota_requests >= 1)",
    "CREATE INDEX ix_resettlement_applications_pending ON resettlement_applications"
    " (quota_requested_at, id) WHERE status = 'pending_quota'",
)

DOWNGRADE = (
    "DROP INDEX ix_resettlement_applications_pending",
    "ALTER TABLE resettlement_applications DROP COLUMN quota_requests",
    "ALTER TABLE resettlement_applications DROP COLUMN quota_requested_at",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(text(statement))


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(text(statement))
