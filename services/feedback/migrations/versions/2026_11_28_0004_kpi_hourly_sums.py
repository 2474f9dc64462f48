"""hourly sums behind the service KPIs, computed from the answers and cases already stored

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from services.feedback.kpis.rollup import ANSWER_SUMS, CASE_SUMS, HOURS, rebuild_statements

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _key() -> list[sa.Column]:
    return [
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("tier", sa.String(16), primary_key=True),
        sa.Column("product", sa.String(64), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "kpi_answers_hourly", *_key(), *[sa.Column(name, sa.BigInteger(), nullable=False) for name in ANSWER_SUMS]
    )
    op.create_table(
        "kpi_cases_hourly",
        *_key(),
        *[sa.Column(name, sa.Float() if name in HOURS else sa.BigInteger(), nullable=False) for name in CASE_SUMS],
    )
    for statement in rebuild_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("kpi_cases_hourly")
    op.drop_table("kpi_answers_hourly")
