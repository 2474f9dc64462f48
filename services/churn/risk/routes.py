from datetime import datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from events.contracts.terms import ChurnBand
from services.churn.features.definitions import vector
from services.churn.features.models import CustomerFeatures
from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.params import CustomerId
from services.kit.problems import PROBLEM_RESPONSES, NotFound

router = APIRouter(prefix="/api/v1/customers", tags=["churn"], responses=PROBLEM_RESPONSES)


class ContributionOut(BaseModel):
    factor: str
    points: float = Field(description="Rules: points of the 0-100 score. Model: log-odds this feature adds.")
    value: float | str | None = Field(description="The feature's value (model); null for the rules.")
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
    model: str = Field(description="`rules-v1` (no model promoted) or `model-<version>`.")
    model_version: int | None
    probability: float
    score: int = Field(description="The probability in percent.")
    level: ChurnBand
    contributions: list[ContributionOut] = Field(description="Largest effect first (model); per factor (rules).")
    features: FeaturesOut
    signals: dict[str, float | str | None] = Field(description="The event-fed features now.")
    lifetime_value: float | None = Field(
        description="Estimated customer lifetime value (currency): the yearly margin on the customer's assets over "
        "the years they are expected to stay at the churn probability of their last scoring, discounted "
        "(services/churn/features/value.py; the churn KPIs average the same figure). Null until assets are known."
    )
    updated_at: datetime


@router.get("/{customer_id}/churn-risk", response_model=ChurnRiskOut)
async def churn_risk(customer_id: CustomerId, session: SessionDep, request: Request) -> ChurnRiskOut:
    """The customer's churn risk now, scored by the promoted model (or the rules), explained."""
    row = await session.get(CustomerFeatures, customer_id)
    if row is None:
        raise NotFound("The churn service has no events about this customer (yet).")
    at = now()
    assessment = request.app.state.churn_scorer.assess(row, at)
    return ChurnRiskOut(
        customer_id=customer_id,
        model=assessment.model,
        model_version=assessment.model_version,
        probability=round(assessment.probability, 6),
        score=assessment.score,
        level=assessment.level,
        contributions=[
            ContributionOut(factor=c.factor, points=c.points, value=c.value, explanation=c.explanation)
            for c in assessment.contributions
        ],
        features=FeaturesOut.model_validate(row),
        signals={k: round(v, 4) if isinstance(v, float) else v for k, v in vector(row.state or {}, at).items()},
        lifetime_value=round(row.lifetime_value, 2) if row.lifetime_value is not None else None,
        updated_at=row.updated_at,
    )
