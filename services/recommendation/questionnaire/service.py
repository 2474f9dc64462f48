"""Risk assessments: score, supersede, announce; and re-assessment requests when the customer changes."""

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import ReassessmentRequestedV1, RiskAssessmentCompletedV1
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.problems import Problem
from services.recommendation import facts
from services.recommendation.base import audit, outbox
from services.recommendation.models import Customer
from services.recommendation.questionnaire import scoring
from services.recommendation.questionnaire.models import RiskAssessment
from services.recommendation.ranking import asset_band
from services.recommendation.settings import RecommendationSettings
from services.recommendation.suitability.service import rematch_customer


class InvalidAssessment(Problem):
    status = 422
    title = "Invalid risk assessment"


def current_questionnaire(settings: RecommendationSettings) -> scoring.Questionnaire:
    return scoring.load(settings.questionnaire_version)


async def record(
    session: AsyncSession,
    settings: RecommendationSettings,
    customer_id: str,
    version: str,
    answers: dict[str, str],
    actor: Actor,
) -> RiskAssessment:
    questionnaire = current_questionnaire(settings)
    if version != questionnaire.version:
        raise InvalidAssessment(
            f"Answer the current questionnaire, version {questionnaire.version} (GET /api/v1/risk-questionnaire)."
        )
    try:
        result = scoring.score(questionnaire, answers)
    except scoring.InvalidAnswers as error:
        raise InvalidAssessment(f"Check the answers: {error}.") from None
    customer = await session.get(Customer, customer_id)
    moment = now()
    previous = await facts.current_assessment(session, customer_id)
    if previous is not None:
        previous.superseded_at = moment
        await session.flush()  # at most one current assessment per customer (unique index)
    validity = settings.assessment_validity_days or questionnaire.validity_days
    assessment = RiskAssessment(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        questionnaire_version=questionnaire.version,
        answers=dict(answers),
        points=result.points,
        risk_level=result.risk_level,
        lowest_category=result.lowest_category,
        vulnerable=result.vulnerable,
        horizon_years=result.horizon_years,
        liquidity_days=result.liquidity_days,
        goals=",".join(result.goals),
        age_band=customer.age_band if customer else None,
        asset_band=asset_band(customer.assets_under_management) if customer else asset_band(Decimal(0)),
        recorded_by=actor.id,
        recorded_by_role=actor.role,
        completed_at=moment,
        valid_until=moment + timedelta(days=validity),
    )
    session.add(assessment)
    await session.flush()
    await outbox.emit(
        session,
        "risk_assessment.completed",
        RiskAssessmentCompletedV1(
            customer_id=customer_id,
            assessment_id=assessment.id,
            risk_level=assessment.risk_level,
            lowest_category=assessment.lowest_category,
            questionnaire_version=assessment.questionnaire_version,
            recorded_by_role=actor.role,
            completed_at=moment,
            valid_until=assessment.valid_until,
        ),
    )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="risk_assessment",
        customer_id=customer_id,
        fields=["answers"],
        reason=actor.reason,
    )
    if previous is not None:
        await rematch_customer(session, settings, customer_id)
    return assessment


async def request_reassessment_if_changed(
    session: AsyncSession, settings: RecommendationSettings, customer: Customer
) -> None:
    """Age band or assets band no longer what the current assessment saw: re-assess by a due date."""
    assessment = await facts.current_assessment(session, customer.customer_id)
    if assessment is None or assessment.reassessment_due_on is not None:
        return
    if customer.age_band is not None and assessment.age_band is not None and customer.age_band != assessment.age_band:
        reason = "age_band_changed"
    elif asset_band(customer.assets_under_management) != assessment.asset_band:
        reason = "assets_changed"
    else:
        return
    due = now() + timedelta(days=settings.reassessment_due_days)
    assessment.reassessment_due_on = due.date()
    assessment.reassessment_reason = reason
    assessment.valid_until = min(assessment.valid_until, due)
    await outbox.emit(
        session,
        "risk_assessment.reassessment_requested",
        ReassessmentRequestedV1(
            customer_id=customer.customer_id,
            assessment_id=assessment.id,
            reason=reason,
            due_on=due.date(),
        ),
    )


def as_out(assessment: RiskAssessment) -> dict:
    return {
        **{c.key: getattr(assessment, c.key) for c in RiskAssessment.__table__.columns if c.key != "goals"},
        "goals": [g for g in assessment.goals.split(",") if g],
        "valid": assessment.valid_until > now() and assessment.superseded_at is None,
    }
