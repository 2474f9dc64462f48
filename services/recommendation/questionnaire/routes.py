from fastapi import APIRouter, Request

from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import CustomerId
from services.kit.problems import PROBLEM_RESPONSES, NotFound
from services.recommendation import facts
from services.recommendation.access import CUSTOMER_OR_MANAGER, own_customer, require_role
from services.recommendation.questionnaire import service
from services.recommendation.questionnaire.schemas import AssessmentIn, AssessmentOut, QuestionnaireOut

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, tags=["risk assessment"])


@router.get("/risk-questionnaire", response_model=QuestionnaireOut)
async def questionnaire(request: Request) -> QuestionnaireOut:
    """The questionnaire to answer now (questions and answer ids; points stay with the bank)."""
    settings = request.app.state.settings
    questionnaire = service.current_questionnaire(settings).model_dump()
    return QuestionnaireOut.model_validate(
        {**questionnaire, "validity_days": settings.assessment_validity_days or questionnaire["validity_days"]}
    )


@router.post("/customers/{customer_id}/risk-assessments", response_model=AssessmentOut, status_code=201)
async def assess(
    customer_id: CustomerId, body: AssessmentIn, session: SessionDep, actor: ActorDep, request: Request
) -> AssessmentOut:
    """The customer answers for themselves, or their relationship manager records it (stored as such).
    Scored into C1-C5 with the lowest-category flag; valid until `valid_until`."""
    require_role(actor, CUSTOMER_OR_MANAGER, "record a risk assessment")
    own_customer(actor, customer_id)
    async with session.begin():
        assessment = await service.record(
            session, request.app.state.settings, customer_id, body.questionnaire_version, body.answers, actor
        )
    return AssessmentOut.model_validate(service.as_out(assessment))


@router.get("/customers/{customer_id}/risk-assessments/current", response_model=AssessmentOut)
async def current(customer_id: CustomerId, session: SessionDep, actor: ActorDep) -> AssessmentOut:
    own_customer(actor, customer_id)
    assessment = await facts.current_assessment(session, customer_id)
    if assessment is None:
        raise NotFound("This customer has no risk assessment yet: answer GET /api/v1/risk-questionnaire.")
    return AssessmentOut.model_validate(service.as_out(assessment))
