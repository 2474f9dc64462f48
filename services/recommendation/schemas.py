from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProductRiskLevel = Literal["R1", "R2", "R3", "R4", "R5"]
CustomerRiskLevel = Literal["C1", "C2", "C3", "C4", "C5"]
Category = Literal["deposit", "fund", "bond", "insurance", "structured"]


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    category: Category
    risk_level: ProductRiskLevel
    description: str


class ProductList(BaseModel):
    items: list[ProductOut]


class Recommendation(BaseModel):
    rank: int
    product: ProductOut
    reason: str


class RecommendationsOut(BaseModel):
    customer_id: str
    risk_level: CustomerRiskLevel
    as_of: datetime  # time of the customer event the risk level comes from
    items: list[Recommendation]
    withheld: str | None = Field(None, description="Why nothing is recommended, when that is the case.")
