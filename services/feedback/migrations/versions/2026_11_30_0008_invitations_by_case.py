"""survey invitations found by case (one invitation per resolved case)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_survey_invitations_case_id", "survey_invitations", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_survey_invitations_case_id", "survey_invitations")
