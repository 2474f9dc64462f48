from fastapi import APIRouter

from services.churn.models import CustomerFeatures
from services.churn.schemas import ChurnRiskOut, ContributionOut, FeaturesOut
from services.kit.params import CustomerId
from services.churn.scoring import MODEL, assess
from services.kit.db import SessionDep
from services.kit.problems import PROBLEM_RESPONSES, NotFound

router = APIRouter(prefix="/api/v1/customers", tags=["churn"], responses=PROBLEM_RESPONSES)


@router.get("/{customer_id}/churn-risk", response_model=ChurnRiskOut)
async def churn_risk(customer_id: CustomerId, session: SessionDep) -> ChurnRiskOut:
    features = await session.get(CustomerFeatures, customer_id)
    if features is None:
        raise NotFound("The churn service has no events about this customer (yet).")
    assessment = assess(features)
    return ChurnRiskOut(
        customer_id=customer_id,
        model=MODEL,
        score=assessment.score,
        level=assessment.level,
        contributions=[ContributionOut.model_validate(c) for c in assessment.contributions],
        features=FeaturesOut.model_validate(features),
        updated_at=features.updated_at,
    )
