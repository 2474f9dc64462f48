"""risk level set by risk assessments (recommendation service), no longer by people

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("risk_level", existing_type=sa.String(2), nullable=True)
        batch.add_column(sa.Column("risk_level_valid_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("risk_assessed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("risk_assessed_at")
        batch.drop_column("risk_level_valid_until")
