from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from events.contracts.terms import ProductRiskLevel

ProductType = Literal["deposit", "wealth_management", "fund", "insurance", "loan"]
Complexity = Literal["simple", "complex"]
Status = Literal["on_sale", "withdrawn"]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Years = Annotated[int, Field(ge=0, le=50, description="How long the money is committed (0: not at all).")]
Days = Annotated[int, Field(ge=0, le=36_500, description="How long it takes to get the money back.")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    title: str
    product_type: ProductType
    risk_level: ProductRiskLevel
    description: str
    horizon_years: int
    liquidity_days: int
    min_amount: Decimal
    complexity: Complexity
    status: Status
    version: int


class ProductList(BaseModel):
    items: list[ProductOut]


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    title: Text
    product_type: ProductType
    risk_level: ProductRiskLevel
    description: Description
    horizon_years: Years
    liquidity_days: Days
    min_amount: Amount = Decimal(0)
    complexity: Complexity = "simple"


class ProductChange(BaseModel):
    """Anything but the risk rating (POST .../risk-rating) and the status (POST .../withdrawal)."""

    model_config = ConfigDict(extra="forbid")

    title: Text | None = None
    product_type: ProductType | None = None
    description: Description | None = None
    horizon_years: Years | None = None
    liquidity_days: Days | None = None
    min_amount: Amount | None = None
    complexity: Complexity | None = None
    risk_level: None = Field(None, description="Not here: re-rate with POST /api/v1/products/{code}/risk-rating.")

    @field_validator("risk_level", mode="before")
    @classmethod
    def _rerate_elsewhere(cls, value):
        raise ValueError(
            "a risk rating changes only through POST /api/v1/products/{code}/risk-rating, which re-matches every holder"
        )


class RiskRatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    risk_level: ProductRiskLevel


class RerateOut(BaseModel):
    product: ProductOut
    previous_risk_level: ProductRiskLevel
    holdings_checked: int
    recommendations_checked: int
    mismatches: int = Field(
        description="Holdings and open recommendations that now break a hard rule "
        "(each announced with `suitability.mismatch_detected`)."
    )
