from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.recommendation.base import Base


class Product(Base):
    """The catalogue, managed by product managers; every change is a new version."""

    __tablename__ = "products"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    # Not `name`: the gateway masks fields called `name` (customers' names) for most roles.
    title: Mapped[str] = mapped_column(sa.String(100))
    product_type: Mapped[str] = mapped_column(sa.String(24))  # deposit, wealth_management, fund, insurance, loan
    risk_level: Mapped[str] = mapped_column(sa.String(2))  # R1 (lowest) .. R5
    description: Mapped[str] = mapped_column(sa.String(500))
    horizon_years: Mapped[int] = mapped_column(sa.Integer())
    liquidity_days: Mapped[int] = mapped_column(sa.Integer())
    min_amount: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    complexity: Mapped[str] = mapped_column(sa.String(16))  # simple, complex
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # on_sale, withdrawn
    version: Mapped[int] = mapped_column(sa.Integer())
    catalogue_version: Mapped[int] = mapped_column(sa.Integer())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProductVersion(Base):
    """Every version of every product (the audit of product management, and what proof replays).

    `catalogue_version` numbers changes across the whole catalogue: the catalogue as of N is,
    per product, its latest version with catalogue_version <= N."""

    __tablename__ = "product_versions"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer(), primary_key=True)
    catalogue_version: Mapped[int] = mapped_column(sa.Integer(), unique=True)
    data: Mapped[dict] = mapped_column(sa.JSON())
    change: Mapped[str] = mapped_column(sa.String(16))  # added, changed, rerated, withdrawn
    changed_by: Mapped[str] = mapped_column(sa.String(128))
    changed_by_role: Mapped[str] = mapped_column(sa.String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
