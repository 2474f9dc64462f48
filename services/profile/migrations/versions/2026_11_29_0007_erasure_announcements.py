"""when each erasure was last announced (reconciliation of consumers that were away)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("erasure_announced_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE customers SET erasure_announced_at = erased_at WHERE erased_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("erasure_announced_at")
