"""segmentation: activity, households, service reviews

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_customers_last_activity_at", ["last_activity_at"])
    op.execute("UPDATE customers SET last_activity_at = created_at")
    op.create_table(
        "households",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "household_members",
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("household_id", sa.String(36), sa.ForeignKey("households.id"), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_household_members_household_id", "household_members", ["household_id"])
    op.create_table(
        "service_reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("assigned_to", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(128), nullable=True),
    )
    op.create_index("ix_service_reviews_customer_id", "service_reviews", ["customer_id"])
    op.create_index("ix_service_reviews_due_on", "service_reviews", ["due_on"])
    # One open review per customer: the scheduling job can never add a second.
    op.create_index(
        "ix_service_reviews_open",
        "service_reviews",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("done_at IS NULL"),
        sqlite_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("service_reviews")
    op.drop_table("household_members")
    op.drop_table("households")
    with op.batch_alter_table("customers") as batch:
        batch.drop_index("ix_customers_last_activity_at")
        batch.drop_column("last_activity_at")
