"""indexes for the customer KPIs: customers by creation time, stage changes by stage and time

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customers_created_at", "customers", ["created_at"])
    op.create_index("ix_lifecycle_history_to_stage_at", "lifecycle_history", ["to_stage", "at"])


def downgrade() -> None:
    op.drop_index("ix_lifecycle_history_to_stage_at", table_name="lifecycle_history")
    op.drop_index("ix_customers_created_at", table_name="customers")
