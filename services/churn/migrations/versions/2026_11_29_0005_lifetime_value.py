"""each customer's lifetime value stored beside its probability, with the settings it was computed with

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from services.churn.features.value import revalue_statements
from services.churn.settings import ChurnSettings

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_features") as batch:
        batch.add_column(sa.Column("lifetime_value", sa.Float(), nullable=True))
    op.create_table(
        "lifetime_value_basis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("margin_rate", sa.Float(), nullable=False),
        sa.Column("discount_rate", sa.Float(), nullable=False),
        sa.Column("horizon_years", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifetime_value_basis")),
    )
    # Every existing customer valued with the settings the service runs with (it values them
    # again at start if those differ).
    for statement in revalue_statements(ChurnSettings(), op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("lifetime_value_basis")
    with op.batch_alter_table("customer_features") as batch:
        batch.drop_column("lifetime_value")
