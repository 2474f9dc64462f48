from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.recommendation.products.schemas import ProductOut


class PickOut(BaseModel):
    rank: int
    product: ProductOut
    score: float
    reasons: list[str] = Field(description="Why it ranks here (codes first: GOAL, HORIZON, AMOUNT, SIMILAR, HELD).")
    warnings: list[str] = Field(description="Warn findings, e.g. the cooling-off for customers aged 65 or over.")


class ExclusionOut(BaseModel):
    product_code: str
    rule_ids: list[str] = Field(description="The hard rules that exclude it (sentences in `rules`).")


class RecommendationsOut(BaseModel):
    id: str | None = Field(description="The stored list (its proof); null when nothing was recommended.")
    customer_id: str
    mode: Literal["proactive", "advice"]
    risk_level: str | None = Field(description="From the valid risk assessment; null without one.")
    assessment_valid_until: datetime | None
    made_at: datetime
    items: list[PickOut]
    excluded: list[ExclusionOut]
    rules: dict[str, str] = Field(description="Id -> sentence of every rule that excluded something here.")
    withheld: str | None = Field(None, description="Why nothing is recommended, when that is the case.")


class ListReplayOut(BaseModel):
    id: str
    same: bool
    picks: list[dict]
    exclusions: list[dict]
