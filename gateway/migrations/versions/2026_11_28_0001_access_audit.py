"""access audit (hash-chained)

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op

from services.kit.audit import create_audit_table, drop_audit_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_table(op)


def downgrade() -> None:
    drop_audit_table(op)
