"""customers, outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from events.store import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(36), primary_key=True),
        # Encrypted at rest: "<key id>:<base64 AES-256-GCM>" (services/kit/crypto.py).
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("national_id", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("national_id_index", sa.String(64), nullable=False),
        sa.Column("phone_index", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("assets_under_management", sa.Numeric(18, 2), nullable=False),
        sa.Column("risk_level", sa.String(2), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("uq_customers_national_id_index", "customers", ["national_id_index"], unique=True)
    op.create_index("ix_customers_phone_index", "customers", ["phone_index"])
    op.create_index("ix_customers_key_id", "customers", ["key_id"])
    create_messaging_tables(op)


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("customers")
