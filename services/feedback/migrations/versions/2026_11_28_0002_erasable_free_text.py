"""free text encrypted at rest and erasable: descriptions may become null

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Comments and descriptions are written encrypted from this release on (services/kit/crypto.py);
the column type (text) is unchanged.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.alter_column("description", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.alter_column("description", existing_type=sa.Text(), nullable=False)
