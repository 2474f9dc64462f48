"""event-fed feature state, manager and model per customer; retention interventions and tasks; points ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# Check constraints are named short: the metadata's naming convention makes them ck_<table>_<name>.


def upgrade() -> None:
    with op.batch_alter_table("customer_features") as batch:
        batch.add_column(sa.Column("state", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("manager_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("tier", sa.String(32), nullable=True))
        batch.add_column(sa.Column("churned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("probability", sa.Float(), nullable=True))
        batch.add_column(sa.Column("model", sa.String(32), nullable=True))
        batch.create_index("ix_customer_features_manager_id", ["manager_id"])

    op.create_table(
        "retention_interventions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("band", sa.String(8), nullable=False),
        sa.Column("previous_band", sa.String(8), nullable=False),
        sa.Column("group", sa.String(8), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_interventions"),
    )
    op.create_index("ix_retention_interventions_customer_id", "retention_interventions", ["customer_id"])
    op.create_index("ix_retention_interventions_created_at", "retention_interventions", ["created_at"])

    op.create_table(
        "retention_tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("intervention_id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("manager_id", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("band", sa.String(8), nullable=False),
        sa.Column("offer_points", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_tasks"),
        sa.ForeignKeyConstraint(
            ["intervention_id"],
            ["retention_interventions.id"],
            name="fk_retention_tasks_intervention_id_retention_interventions",
        ),
        sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status_known"),
    )
    op.create_index("ix_retention_tasks_intervention_id", "retention_tasks", ["intervention_id"])
    op.create_index("ix_retention_tasks_customer_id", "retention_tasks", ["customer_id"])
    op.create_index("ix_retention_tasks_manager_id", "retention_tasks", ["manager_id"])

    op.create_table(
        "points_accounts",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_points_accounts"),
        sa.CheckConstraint("balance >= 0", name="balance_not_negative"),
    )
    op.create_table(
        "points_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(160), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_points_movements"),
        sa.UniqueConstraint("source_id", name="uq_points_movements_source_id"),
        sa.CheckConstraint("points <> 0", name="points_not_zero"),
        sa.CheckConstraint("kind IN ('earn', 'redeem', 'expire', 'adjust')", name="kind_known"),
    )
    op.create_index("ix_points_movements_customer_id", "points_movements", ["customer_id"])
    op.create_index("ix_points_movements_expires_at", "points_movements", ["expires_at"])


def downgrade() -> None:
    op.drop_table("points_movements")
    op.drop_table("points_accounts")
    op.drop_table("retention_tasks")
    op.drop_table("retention_interventions")
    with op.batch_alter_table("customer_features") as batch:
        batch.drop_index("ix_customer_features_manager_id")
        for column in ("model", "probability", "first_seen_at", "churned_at", "tier", "manager_id", "state"):
            batch.drop_column(column)
