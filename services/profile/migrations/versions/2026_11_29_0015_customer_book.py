"""the customer book per day and month, kept by triggers, backfilled from the customers, their
churn moves and documents

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from services.profile.book import create_statements, drop_statements, rebuild_statements

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_book",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=5), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.Column("assets", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("high_risk", sa.BigInteger(), nullable=False),
        sa.Column("churned", sa.BigInteger(), nullable=False),
        sa.Column("documents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "period", "starts_on", "value", name=op.f("pk_customer_book")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # nothing they count written between the backfill and the triggers
        op.execute("LOCK TABLE customers, lifecycle_history, customer_documents IN SHARE ROW EXCLUSIVE MODE")
    # The book as this revision made it: erased customers out of the sums (0018 keeps them in).
    statements = [
        *rebuild_statements(dialect, erased_counted=False),
        *create_statements(dialect, deferrable=False, planned_once=False, erased_counted=False),
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("customer_book")
