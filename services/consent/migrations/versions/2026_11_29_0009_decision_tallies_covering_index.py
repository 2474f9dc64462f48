"""covering index for the decision KPIs: a window's days with outcome, purpose and count

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_decision_tallies_day_kpis",
        "decision_tallies",
        ["day"],
        unique=False,
        postgresql_include=["decision", "purpose", "count"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_decision_tallies_day_kpis",
        table_name="decision_tallies",
        postgresql_include=["decision", "purpose", "count"],
    )
