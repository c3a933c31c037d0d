"""persons: the Cyrillic spelling is required of citizens only

A foreigner's or stateless person's documents may carry no Cyrillic spelling of the name:
surname_cyrillic and given_names_cyrillic become nullable, given together or not at all,
and never absent for a citizen. Existing rows all hold both, so they satisfy the checks.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = (
    "ALTER TABLE persons ALTER COLUMN surname_cyrillic DROP NOT NULL",
    "ALTER TABLE persons ALTER COLUMN given_names_cyrillic DROP NOT NULL",
    "ALTER TABLE persons ADD CONSTRAINT ck_persons_cyrillic_whole"
    " CHECK ((surname_cyrillic IS NULL) = (given_names_cyrillic IS NULL))",
    "ALTER TABLE persons ADD CONSTRAINT ck_persons_citizen_has_cyrillic"
    " CHECK (legal_status <> 'citizen' OR surname_cyrillic IS NOT NULL)",
)

# refuses (and so keeps) a database that holds persons without a Cyrillic spelling
DOWNGRADE = (
    "ALTER TABLE persons DROP CONSTRAINT ck_persons_citizen_has_cyrillic",
    "ALTER TABLE persons DROP CONSTRAINT ck_persons_cyrillic_whole",
    "ALTER TABLE persons ALTER COLUMN given_names_cyrillic SET NOT NULL",
    "ALTER TABLE persons ALTER COLUMN surname_cyrillic SET NOT NULL",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(text(statement))


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(text(statement))
