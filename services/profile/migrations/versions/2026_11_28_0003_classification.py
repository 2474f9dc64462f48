"""classification (tier, lifecycle stage and their history, relationship manager, external
ref) and erasure (personal columns nullable, erased_at)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("product_holdings", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("tier", sa.String(20), nullable=False, server_default="potential"))
        batch.add_column(sa.Column("lifecycle_stage", sa.String(20), nullable=False, server_default="prospect"))
        batch.add_column(sa.Column("relationship_manager_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("external_ref", sa.String(64), nullable=True))
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        for column in ("name", "national_id", "phone", "email", "birth_date", "address"):
            batch.alter_column(column, existing_type=sa.Text(), nullable=True)
        batch.alter_column("national_id_index", existing_type=sa.String(64), nullable=True)
        batch.alter_column("phone_index", existing_type=sa.String(64), nullable=True)
        batch.create_index("ix_customers_tier", ["tier"])
        batch.create_index("ix_customers_lifecycle_stage", ["lifecycle_stage"])
        batch.create_index("ix_customers_relationship_manager_id", ["relationship_manager_id"])
        batch.create_unique_constraint("uq_customers_external_ref", ["external_ref"])
    op.create_table(
        "lifecycle_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False, index=True),
        sa.Column("from_stage", sa.String(20), nullable=True),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
    )
    op.create_table(
        "tier_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False, index=True),
        sa.Column("from_tier", sa.String(20), nullable=True),
        sa.Column("to_tier", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tier_history")
    op.drop_table("lifecycle_history")
    with op.batch_alter_table("customers") as batch:
        for column in (
            "erased_at",
            "external_ref",
            "relationship_manager_id",
            "lifecycle_stage",
            "tier",
            "product_holdings",
        ):
            batch.drop_column(column)
