"""indexes that give the decision's rows in the order it reads them: no sort per decision

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_consents_customer_id_recipient_created_at", "consents", ["customer_id", "recipient", "created_at"]
    )
    op.drop_index("ix_consents_customer_id_recipient_purpose", table_name="consents")
    op.create_index("ix_consent_history_consent_id_at_id", "consent_history", ["consent_id", "at", "id"])
    op.drop_index("ix_consent_history_consent_id_at", table_name="consent_history")


def downgrade() -> None:
    op.create_index("ix_consent_history_consent_id_at", "consent_history", ["consent_id", "at"])
    op.drop_index("ix_consent_history_consent_id_at_id", table_name="consent_history")
    op.create_index("ix_consents_customer_id_recipient_purpose", "consents", ["customer_id", "recipient", "purpose"])
    op.drop_index("ix_consents_customer_id_recipient_created_at", table_name="consents")
