"""customer features, outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from events.store import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_features",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("assets_under_management", sa.Numeric(18, 2), nullable=True),
        sa.Column("previous_assets", sa.Numeric(18, 2), nullable=True),
        sa.Column("peak_assets", sa.Numeric(18, 2), nullable=True),
        sa.Column("customer_event_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.Column("low_csat", sa.Integer(), nullable=False),
        sa.Column("nps_detractors", sa.Integer(), nullable=False),
        sa.Column("last_feedback_survey", sa.String(8), nullable=True),
        sa.Column("last_feedback_score", sa.Integer(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_messaging_tables(op)


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("customer_features")
