"""seed the product catalogue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# A frozen copy of the table's shape: the model may change after this migration.
products = sa.table(
    "products",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("category", sa.String),
    sa.column("risk_level", sa.String),
    sa.column("description", sa.String),
    sa.column("active", sa.Boolean),
)

# (code, name, category, risk level, description, active)
CATALOGUE = [
    (
        "DEP-DEMAND",
        "Demand deposit",
        "deposit",
        "R1",
        "Instant-access savings at the demand deposit rate; covered by deposit insurance.",
        True,
    ),
    (
        "DEP-TIME-12M",
        "12-month time deposit",
        "deposit",
        "R1",
        "Fixed rate for 12 months; early withdrawal earns the demand rate.",
        True,
    ),
    (
        "DEP-LCD-3Y",
        "3-year large-denomination certificate of deposit",
        "deposit",
        "R1",
        "From 200,000; fixed rate, transferable before maturity.",
        True,
    ),
    (
        "FUND-MMF",
        "Money market fund",
        "fund",
        "R1",
        "Short-term money market instruments; redeemable on the next business day.",
        True,
    ),
    (
        "BOND-GOV-5Y",
        "5-year government savings bond",
        "bond",
        "R2",
        "Treasury savings bond held to maturity; fixed coupon paid yearly.",
        True,
    ),
    (
        "INS-ANNUITY",
        "Participating annuity insurance",
        "insurance",
        "R2",
        "Guaranteed annuity from age 60 plus a non-guaranteed bonus.",
        True,
    ),
    (
        "STR-PP-CSI300",
        "Principal-protected note linked to CSI 300",
        "structured",
        "R2",
        "Principal protected at maturity (1 year); return depends on the index range.",
        True,
    ),
    (
        "FUND-BALANCED",
        "Balanced mixed fund",
        "fund",
        "R3",
        "About half equities and half bonds, rebalanced quarterly.",
        True,
    ),
    (
        "FUND-CSI300",
        "CSI 300 index fund",
        "fund",
        "R4",
        "Tracks the CSI 300 equity index; full equity market risk.",
        True,
    ),
    (
        "INS-UNIT-LINKED",
        "Unit-linked life insurance",
        "insurance",
        "R4",
        "Life cover with premiums invested in equity funds; the account value can fall.",
        True,
    ),
    (
        "FUND-TECH",
        "Technology sector equity fund",
        "fund",
        "R5",
        "Concentrated in technology shares; high volatility.",
        True,
    ),
    (
        "STR-FX-NPP",
        "Non-principal-protected FX-linked note",
        "structured",
        "R5",
        "Return and principal depend on a currency pair; the principal can be lost.",
        True,
    ),
    (
        "BOND-CORP-HY",
        "High-yield corporate bond fund",
        "bond",
        "R4",
        "Sub-investment-grade corporate bonds; closed to new subscriptions.",
        False,
    ),
]


def upgrade() -> None:
    op.bulk_insert(
        products,
        [
            dict(zip(("code", "name", "category", "risk_level", "description", "active"), row, strict=False))
            for row in CATALOGUE
        ],
    )


def downgrade() -> None:
    op.execute(products.delete().where(products.c.code.in_([row[0] for row in CATALOGUE])))
