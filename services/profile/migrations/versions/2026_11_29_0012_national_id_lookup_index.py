"""national ID look-ups indexed again: the unique index is partial since held duplicates

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customers_national_id_index", "customers", ["national_id_index"])


def downgrade() -> None:
    op.drop_index("ix_customers_national_id_index", table_name="customers")
