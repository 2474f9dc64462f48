"""legal holds (retention and erasure suspended for these customers)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from alembic import op

from services.kit.retention import create_legal_holds_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_legal_holds_table(op)


def downgrade() -> None:
    op.drop_table("legal_holds")
