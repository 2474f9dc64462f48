"""consent lifecycle (stored status, maker-checker, recipient type, legal basis, notice text and
hash), status history for as-of decisions, hash-chained audit log

Existing consents become `active` or `revoked` with the matching history; those already past
their expiry are left active for the expiry job, which marks them and announces it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from services.kit.audit import create_audit_table, drop_audit_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _new_columns() -> list[sa.Column]:
    return [
        sa.Column("recipient_type", sa.String(16), nullable=False, server_default="internal"),
        sa.Column("legal_basis", sa.String(32), nullable=False, server_default="consent"),
        sa.Column("language", sa.String(35), nullable=False, server_default="zh-CN"),
        sa.Column("notice_text", sa.Text(), nullable=True),
        sa.Column("notice_text_sha256", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        for column in _new_columns():
            batch.add_column(column)
        batch.alter_column("granted_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.alter_column("granted_by", existing_type=sa.String(64), type_=sa.String(128), nullable=True)
        batch.alter_column("revoked_by", existing_type=sa.String(64), type_=sa.String(128))
        batch.drop_index("ix_consents_customer_id_granted_at")
    op.execute(
        "UPDATE consents SET created_at = granted_at, "
        "status = CASE WHEN revoked_at IS NULL THEN 'active' ELSE 'revoked' END"
    )
    with op.batch_alter_table("consents") as batch:
        batch.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        # The defaults only filled existing rows; new rows always say what they are.
        for name in ("recipient_type", "legal_basis", "language", "status"):
            batch.alter_column(name, existing_type=sa.String(), server_default=None)
    op.create_index("ix_consents_customer_id_created_at", "consents", ["customer_id", "created_at"])
    op.create_index("ix_consents_customer_id_recipient_purpose", "consents", ["customer_id", "recipient", "purpose"])
    op.create_index(
        "ix_consents_due",
        "consents",
        ["expires_at"],
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "consent_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("consent_id", sa.String(36), sa.ForeignKey("consents.id"), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
    )
    op.create_index("ix_consent_history_consent_id_at", "consent_history", ["consent_id", "at"])
    op.create_index("ix_consent_history_customer_id", "consent_history", ["customer_id"])
    op.execute(
        "INSERT INTO consent_history (consent_id, customer_id, from_status, to_status, at, actor) "
        "SELECT id, customer_id, NULL, 'active', granted_at, granted_by FROM consents ORDER BY granted_at"
    )
    op.execute(
        "INSERT INTO consent_history (consent_id, customer_id, from_status, to_status, at, actor) "
        "SELECT id, customer_id, 'active', 'revoked', revoked_at, COALESCE(revoked_by, 'unknown') FROM consents "
        "WHERE revoked_at IS NOT NULL ORDER BY revoked_at"
    )
    create_audit_table(op)


def downgrade() -> None:
    drop_audit_table(op)
    op.drop_table("consent_history")
    op.drop_index("ix_consents_due", "consents")
    op.drop_index("ix_consents_customer_id_recipient_purpose", "consents")
    op.drop_index("ix_consents_customer_id_created_at", "consents")
    # Consents that never became active have no place in the old schema.
    op.execute("DELETE FROM consents WHERE granted_at IS NULL")
    with op.batch_alter_table("consents") as batch:
        for column in reversed(_new_columns()):
            batch.drop_column(column.name)
        batch.alter_column("granted_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("granted_by", existing_type=sa.String(128), type_=sa.String(64), nullable=False)
        batch.alter_column("revoked_by", existing_type=sa.String(128), type_=sa.String(64))
        batch.create_index("ix_consents_customer_id_granted_at", ["customer_id", "granted_at"])
