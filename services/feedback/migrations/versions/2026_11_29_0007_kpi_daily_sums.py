"""daily sums behind the service KPIs, computed from the hourly ones

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op

from services.feedback.kpis.rollup import ANSWER_SUMS, CASE_SUMS, daily_statements, sums_columns

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("kpi_answers_daily", *sums_columns("day", ANSWER_SUMS))
    op.create_table("kpi_cases_daily", *sums_columns("day", CASE_SUMS))
    for statement in daily_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("kpi_cases_daily")
    op.drop_table("kpi_answers_daily")
