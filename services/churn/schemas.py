from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict


class ContributionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    factor: str
    points: int
    explanation: str


class FeaturesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    complaints: int
    low_csat: int
    nps_detractors: int
    last_feedback_survey: Literal["csat", "nps"] | None
    last_feedback_score: int | None
    assets_under_management: Decimal | None
    previous_assets: Decimal | None
    peak_assets: Decimal | None


class ChurnRiskOut(BaseModel):
    customer_id: str
    model: str
    score: int
    level: Literal["low", "medium", "high"]
    contributions: list[ContributionOut]  # the score is the sum of their points
    features: FeaturesOut
    updated_at: datetime
