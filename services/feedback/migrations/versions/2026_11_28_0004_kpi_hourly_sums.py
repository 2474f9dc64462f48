"""hourly sums behind the service KPIs, computed from the answers and cases already stored

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op

from services.feedback.kpis.rollup import ANSWER_SUMS, CASE_SUMS, hourly_statements, sums_columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("kpi_answers_hourly", *sums_columns("hour", ANSWER_SUMS))
    op.create_table("kpi_cases_hourly", *sums_columns("hour", CASE_SUMS))
    for statement in hourly_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("kpi_cases_hourly")
    op.drop_table("kpi_answers_hourly")
