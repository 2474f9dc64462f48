"""suitability: managed products and their versions, risk assessments, holdings, proof, audit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from services.kit.audit import create_audit_table, drop_audit_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

# code -> (type, horizon years, days to get the money back, minimum amount, complexity)
SEEDED = {
    "DEP-DEMAND": ("deposit", 0, 0, "0", "simple"),
    "DEP-TIME-12M": ("deposit", 1, 1, "1000", "simple"),
    "DEP-LCD-3Y": ("deposit", 3, 3, "200000", "simple"),
    "FUND-MMF": ("fund", 0, 1, "1", "simple"),
    "BOND-GOV-5Y": ("fund", 5, 30, "100", "simple"),
    "INS-ANNUITY": ("insurance", 10, 3650, "10000", "complex"),
    "STR-PP-CSI300": ("wealth_management", 1, 365, "50000", "complex"),
    "FUND-BALANCED": ("fund", 3, 3, "1000", "simple"),
    "FUND-CSI300": ("fund", 3, 2, "1000", "simple"),
    "INS-UNIT-LINKED": ("insurance", 5, 30, "10000", "complex"),
    "FUND-TECH": ("fund", 5, 3, "1000", "simple"),
    "STR-FX-NPP": ("wealth_management", 1, 180, "100000", "complex"),
    "BOND-CORP-HY": ("fund", 3, 7, "1000", "simple"),
}


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("risk_level", existing_type=sa.String(2), nullable=True)
        batch.add_column(sa.Column("age_band", sa.String(16), nullable=True))

    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("product_type", sa.String(24), nullable=False, server_default="deposit"))
        batch.add_column(sa.Column("horizon_years", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("liquidity_days", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("min_amount", sa.Numeric(18, 2), nullable=False, server_default="0"))
        batch.add_column(sa.Column("complexity", sa.String(16), nullable=False, server_default="simple"))
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="on_sale"))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("catalogue_version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()))

    op.create_table(
        "product_versions",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("catalogue_version", sa.Integer(), nullable=False, unique=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("changed_by_role", sa.String(64), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
    )
    # The seeded catalogue: types and terms, then version 1 of each under catalogue versions 1..n.
    products = sa.table(
        "products",
        *(
            sa.column(c)
            for c in (
                "code",
                "name",
                "category",
                "risk_level",
                "description",
                "active",
                "product_type",
                "horizon_years",
                "liquidity_days",
                "complexity",
                "status",
                "catalogue_version",
            )
        ),
        sa.column("min_amount", sa.Numeric(18, 2)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            products.c.code, products.c.name, products.c.risk_level, products.c.description, products.c.active
        ).order_by(products.c.code)
    ).all()
    versions = []
    for number, row in enumerate(rows, start=1):
        kind, horizon, liquidity, minimum, complexity = SEEDED.get(row.code, ("deposit", 0, 0, "0", "simple"))
        status = "on_sale" if row.active else "withdrawn"
        bind.execute(
            products.update()
            .where(products.c.code == row.code)
            .values(
                product_type=kind,
                horizon_years=horizon,
                liquidity_days=liquidity,
                min_amount=Decimal(minimum),
                complexity=complexity,
                status=status,
                catalogue_version=number,
            )
        )
        versions.append(
            {
                "code": row.code,
                "version": 1,
                "catalogue_version": number,
                "change": "added",
                "changed_by": "migration-0004",
                "changed_by_role": "system",
                "changed_at": sa.func.now(),
                "data": {
                    "code": row.code,
                    "risk_level": int(row.risk_level[1]),
                    "product_type": kind,
                    "horizon_years": horizon,
                    "liquidity_days": liquidity,
                    "min_amount": minimum,
                    "complexity": complexity,
                    "on_sale": bool(row.active),
                    "name": row.name,
                    "description": row.description,
                },
            }
        )
    version_table = sa.table(
        "product_versions",
        *(
            sa.column(c)
            for c in ("code", "version", "catalogue_version", "change", "changed_by", "changed_by_role", "changed_at")
        ),
        sa.column("data", sa.JSON()),
    )
    for version in versions:
        bind.execute(version_table.insert().values(**version))

    with op.batch_alter_table("products") as batch:
        batch.drop_column("category")
        batch.drop_column("active")
        for column in (
            "product_type",
            "horizon_years",
            "liquidity_days",
            "min_amount",
            "complexity",
            "status",
            "version",
            "catalogue_version",
            "updated_at",
        ):
            batch.alter_column(column, server_default=None)
        batch.create_index("ix_products_status", ["status"])

    op.create_table(
        "risk_assessments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("questionnaire_version", sa.String(16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("risk_level", sa.String(2), nullable=False),
        sa.Column("lowest_category", sa.Boolean(), nullable=False),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        sa.Column("horizon_years", sa.Integer(), nullable=True),
        sa.Column("liquidity_days", sa.Integer(), nullable=True),
        sa.Column("goals", sa.String(200), nullable=False),
        sa.Column("age_band", sa.String(16), nullable=True),
        sa.Column("asset_band", sa.String(16), nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("recorded_by_role", sa.String(64), nullable=False),
        sa.Column("completed_at", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=False),
        sa.Column("reassessment_due_on", sa.Date(), nullable=True),
        sa.Column("reassessment_reason", sa.String(32), nullable=True),
        sa.Column("superseded_at", TS, nullable=True),
    )
    op.create_index(
        "ix_risk_assessments_current",
        "risk_assessments",
        ["customer_id"],
        unique=True,
        sqlite_where=sa.text("superseded_at IS NULL"),
        postgresql_where=sa.text("superseded_at IS NULL"),
    )

    op.create_table(
        "holdings",
        sa.Column("holding_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("check_id", sa.String(36), nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
    )
    op.create_index("ix_holdings_product_open", "holdings", ["product_code", "closed_at"])
    op.create_table(
        "segment_popularity",
        sa.Column("segment", sa.String(64), primary_key=True),
        sa.Column("product_code", sa.String(32), primary_key=True),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("learned_at", TS, nullable=False),
    )

    op.create_table(
        "suitability_checks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
        sa.Column("product_risk_level", sa.String(2), nullable=False),
        sa.Column("customer_risk_level", sa.String(2), nullable=True),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("rule_ids", sa.String(300), nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("ruleset_version", sa.String(32), nullable=False),
        sa.Column("questionnaire_version", sa.String(16), nullable=True),
        sa.Column("assessment_id", sa.String(36), nullable=True),
        sa.Column("customer_as_of", TS, nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("warning_hash", sa.String(64), nullable=True),
        sa.Column("cooling_off_until", TS, nullable=True),
        sa.Column("follow_up_due_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_by_role", sa.String(64), nullable=False),
        sa.Column("decided_at", TS, nullable=False, index=True),
        sa.Column("sold_at", TS, nullable=True),
    )
    op.create_table(
        "recommendation_lists",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("ruleset_version", sa.String(32), nullable=False),
        sa.Column("questionnaire_version", sa.String(16), nullable=True),
        sa.Column("assessment_id", sa.String(36), nullable=True),
        sa.Column("catalogue_version", sa.Integer(), nullable=False),
        sa.Column("customer_as_of", TS, nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("picks", sa.JSON(), nullable=False),
        sa.Column("exclusions", sa.JSON(), nullable=False),
        sa.Column("made_by", sa.String(128), nullable=False),
        sa.Column("made_by_role", sa.String(64), nullable=False),
        sa.Column("made_at", TS, nullable=False, index=True),
    )
    op.create_table(
        "recommendation_items",
        sa.Column("recommendation_id", sa.String(36), primary_key=True),
        sa.Column("product_code", sa.String(32), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_recommendation_items_product_open", "recommendation_items", ["product_code", "open"])
    op.create_table(
        "suitability_mismatches",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("product_code", sa.String(32), nullable=False),
        sa.Column("product_risk_level", sa.String(2), nullable=False),
        sa.Column("customer_risk_level", sa.String(2), nullable=True),
        sa.Column("holding_id", sa.String(64), nullable=True),
        sa.Column("recommendation_id", sa.String(36), nullable=True),
        sa.Column("rule_ids", sa.String(300), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("detected_at", TS, nullable=False, index=True),
    )
    create_audit_table(op)


def downgrade() -> None:
    drop_audit_table(op)
    for table in (
        "suitability_mismatches",
        "recommendation_items",
        "recommendation_lists",
        "suitability_checks",
        "segment_popularity",
        "holdings",
        "risk_assessments",
        "product_versions",
    ):
        op.drop_table(table)
    with op.batch_alter_table("products") as batch:
        batch.drop_index("ix_products_status")
        batch.add_column(sa.Column("category", sa.String(16), nullable=False, server_default="deposit"))
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        for column in (
            "product_type",
            "horizon_years",
            "liquidity_days",
            "min_amount",
            "complexity",
            "status",
            "version",
            "catalogue_version",
            "updated_at",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("age_band")
