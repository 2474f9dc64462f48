"""indexes for the consent KPIs: consents by grant and by revocation time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_consents_granted_at", "consents", ["granted_at"])
    op.create_index("ix_consents_revoked_at", "consents", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_consents_revoked_at", table_name="consents")
    op.drop_index("ix_consents_granted_at", table_name="consents")
