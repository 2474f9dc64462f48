"""decision tallies for the consent KPIs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_tallies",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("recipient", sa.String(100), primary_key=True),
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("decision", sa.String(8), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "recipient", "purpose", "decision", name="pk_decision_tallies"),
    )


def downgrade() -> None:
    op.drop_table("decision_tallies")
