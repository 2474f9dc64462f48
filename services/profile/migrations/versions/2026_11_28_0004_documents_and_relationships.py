"""identity documents (encrypted numbers, expiry announcements) and related-party links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        # Encrypted at rest: "<key id>:<base64 AES-256-GCM>" (services/kit/crypto.py); null once erased.
        sa.Column("document_number", sa.Text(), nullable=True),
        sa.Column("number_index", sa.String(64), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("last_announced_status", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("type", "issuer", "number_index", name="uq_customer_documents_number"),
    )
    op.create_index("ix_customer_documents_customer_id", "customer_documents", ["customer_id"])
    op.create_index("ix_customer_documents_expires_on", "customer_documents", ["expires_on"])
    op.create_index("ix_customer_documents_key_id", "customer_documents", ["key_id"])
    op.create_table(
        "customer_relationships",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("related_customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("link_key", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("link_key", name="uq_customer_relationships_link_key"),
    )
    op.create_index("ix_customer_relationships_customer_id", "customer_relationships", ["customer_id"])
    op.create_index("ix_customer_relationships_related_customer_id", "customer_relationships", ["related_customer_id"])


def downgrade() -> None:
    op.drop_table("customer_relationships")
    op.drop_table("customer_documents")
