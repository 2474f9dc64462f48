"""the customer's products as core banking reports them (the number held, for tiering)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holdings",
        sa.Column("holding_id", sa.String(length=128), primary_key=True),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("product_code", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_holdings_customer_id", "holdings", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_holdings_customer_id", "holdings")
    op.drop_table("holdings")
