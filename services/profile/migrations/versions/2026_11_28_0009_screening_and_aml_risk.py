"""screening: list versions and entries, book re-screening runs, alerts with two-person
decisions, remembered false positives; money-laundering risk ratings and review tasks; the
customer fields they need (nationality, residence country, occupation encrypted)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Encrypted at rest: "<key id>:<base64 AES-256-GCM>" (services/kit/crypto.py).
    op.add_column("customers", sa.Column("nationality", sa.Text(), nullable=True))
    op.add_column("customers", sa.Column("residence_country", sa.Text(), nullable=True))
    op.add_column("customers", sa.Column("occupation", sa.Text(), nullable=True))
    op.add_column("customers", sa.Column("onboarding_channel", sa.String(length=20), nullable=True))
    op.add_column("customers", sa.Column("cash_intensity", sa.String(length=10), nullable=True))
    op.create_table(
        "screening_lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("list_format", sa.String(length=10), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_lists")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_screening_lists_name")),
    )
    op.create_index(op.f("ix_screening_lists_active"), "screening_lists", ["active"], unique=False)
    op.create_index(op.f("ix_screening_lists_name"), "screening_lists", ["name"], unique=False)
    op.create_table(
        "aml_ratings",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("rating", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("enhanced_due_diligence", sa.Boolean(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_aml_ratings_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_aml_ratings")),
    )
    op.create_index(op.f("ix_aml_ratings_rating"), "aml_ratings", ["rating"], unique=False)
    op.create_index(op.f("ix_aml_ratings_review_due"), "aml_ratings", ["review_due"], unique=False)
    op.create_table(
        "aml_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("rating", sa.String(length=10), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_aml_reviews_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aml_reviews")),
    )
    op.create_index(op.f("ix_aml_reviews_customer_id"), "aml_reviews", ["customer_id"], unique=False)
    op.create_index(op.f("ix_aml_reviews_due_on"), "aml_reviews", ["due_on"], unique=False)
    op.create_index(op.f("ix_aml_reviews_status"), "aml_reviews", ["status"], unique=False)
    op.create_table(
        "screening_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("list_name", sa.String(length=100), nullable=False),
        sa.Column("list_version", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("entry_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("customer_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposed_outcome", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_screening_alerts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_alerts")),
    )
    op.create_index(op.f("ix_screening_alerts_customer_id"), "screening_alerts", ["customer_id"], unique=False)
    op.create_index(op.f("ix_screening_alerts_status"), "screening_alerts", ["status"], unique=False)
    op.create_table(
        "screening_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("birth_dates", sa.JSON(), nullable=False),
        sa.Column("nationalities", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["screening_lists.id"], name=op.f("fk_screening_entries_list_id_screening_lists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_entries")),
        sa.UniqueConstraint("list_id", "entity_id", name=op.f("uq_screening_entries_list_id")),
    )
    op.create_index(op.f("ix_screening_entries_list_id"), "screening_entries", ["list_id"], unique=False)
    op.create_table(
        "screening_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("after_customer_id", sa.String(length=36), nullable=True),
        sa.Column("screened", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"], ["screening_lists.id"], name=op.f("fk_screening_runs_list_id_screening_lists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_runs")),
    )
    op.create_index(op.f("ix_screening_runs_list_id"), "screening_runs", ["list_id"], unique=False)
    op.create_index(op.f("ix_screening_runs_status"), "screening_runs", ["status"], unique=False)
    op.create_table(
        "screening_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["screening_alerts.id"], name=op.f("fk_screening_decisions_alert_id_screening_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_decisions")),
    )
    op.create_index(op.f("ix_screening_decisions_alert_id"), "screening_decisions", ["alert_id"], unique=False)
    op.create_table(
        "screening_dismissals",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("list_name", sa.String(length=100), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("entry_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("customer_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["screening_alerts.id"], name=op.f("fk_screening_dismissals_alert_id_screening_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_screening_dismissals_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", "list_name", "entity_id", name=op.f("pk_screening_dismissals")),
    )


def downgrade() -> None:
    for table in (
        "screening_dismissals",
        "screening_decisions",
        "screening_runs",
        "screening_entries",
        "screening_alerts",
        "aml_reviews",
        "aml_ratings",
        "screening_lists",
    ):
        op.drop_table(table)
    for column in ("cash_intensity", "onboarding_channel", "occupation", "residence_country", "nationality"):
        op.drop_column("customers", column)
