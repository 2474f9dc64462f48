"""suitability checks indexed by decision time with what the KPIs count (index-only scans)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INCLUDED = ["result", "overridden", "product_code", "product_risk_level"]


def upgrade() -> None:
    op.drop_index("ix_suitability_checks_decided_at", table_name="suitability_checks")
    op.create_index(
        "ix_suitability_checks_decided_at", "suitability_checks", ["decided_at"], postgresql_include=INCLUDED
    )


def downgrade() -> None:
    op.drop_index("ix_suitability_checks_decided_at", table_name="suitability_checks")
    op.create_index("ix_suitability_checks_decided_at", "suitability_checks", ["decided_at"])
