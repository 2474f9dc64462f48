"""suitability checks and mismatches counted per day, kept by triggers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from services.kit.daily_counts import DailyCounts

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHECK_DAYS = DailyCounts(
    "suitability_check_days",
    "suitability_checks",
    "decided_at",
    ("product_code", "product_risk_level", "result", "overridden"),
)
MISMATCH_DAYS = DailyCounts(
    "suitability_mismatch_days", "suitability_mismatches", "detected_at", ("product_code", "product_risk_level")
)


def upgrade() -> None:
    op.create_table(
        "suitability_check_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_code", sa.String(length=32), nullable=False),
        sa.Column("product_risk_level", sa.String(length=2), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "product_code",
            "product_risk_level",
            "result",
            "overridden",
            name=op.f("pk_suitability_check_days"),
        ),
    )
    op.create_table(
        "suitability_mismatch_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_code", sa.String(length=32), nullable=False),
        sa.Column("product_risk_level", sa.String(length=2), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "product_code", "product_risk_level", name=op.f("pk_suitability_mismatch_days")),
    )
    dialect = op.get_bind().dialect.name
    for counts in (CHECK_DAYS, MISMATCH_DAYS):
        for statement in counts.install(dialect):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for counts in (CHECK_DAYS, MISMATCH_DAYS):
        for statement in counts.uninstall(dialect):
            op.execute(statement)
    op.drop_table("suitability_mismatch_days")
    op.drop_table("suitability_check_days")
