"""Survey answers and invitations; a detractor's answer opens a follow-up case (closed loop)."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import FeedbackReceivedV1
from services.feedback.cases import service as cases
from services.feedback.cases.models import Case
from services.feedback.customers.models import tier_of_known
from services.feedback.db import outbox
from services.feedback.kpis import rollup
from services.feedback.settings import FOLLOW_UP_CATEGORY, FeedbackSettings
from services.feedback.surveys import invitations
from services.feedback.surveys.models import SurveyAnswer, SurveyInvitation
from services.feedback.surveys.schemas import AnswerOut, InvitationCreate, InvitationOut, is_detractor, score_error
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.problems import Conflict, NotFound, Problem


class InvitationGone(Problem):
    status = 410
    title = "Invitation expired"


async def check_rated_case(session: AsyncSession, customer_id: str, case_id: str | None) -> None:
    """An answer may rate only a case of the same customer."""
    if case_id is not None:
        owner = await session.scalar(sa.select(Case.customer_id).where(Case.id == case_id))
        if owner != customer_id:
            raise Problem(
                "`case_id` names no case of this customer.",
                status=422,
                title="Invalid request",
                errors=[{"field": "case_id", "message": "no case of this customer has this id"}],
            )


async def record(
    session: AsyncSession,
    settings: FeedbackSettings,
    *,
    customer_id: str,
    survey: str,
    score: int,
    channel: str,
    comment: str | None,
    recorded_by: str,
    case_id: str | None = None,
    interaction_id: str | None = None,
    product: str | None = None,
    invitation_id: str | None = None,
) -> AnswerOut:
    tier = await tier_of_known(session, customer_id)
    answer = SurveyAnswer(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        survey=survey,
        score=score,
        channel=channel,
        comment=comment,
        received_at=now(),
        invitation_id=invitation_id,
        case_id=case_id,
        interaction_id=interaction_id,
        tier=tier,
        product=product,
        detractor=is_detractor(survey, score),
    )
    session.add(answer)
    await session.flush()
    await rollup.count_answer(session, answer)
    await outbox.emit(
        session,
        "feedback.received",
        FeedbackReceivedV1(
            feedback_id=answer.id,
            customer_id=customer_id,
            survey=survey,
            score=score,
            channel=channel,
            case_id=case_id,
        ),
    )
    follow_up = None
    if answer.detractor:
        follow_up = await cases.open_case(
            session,
            settings,
            customer_id=customer_id,
            kind="follow_up",
            category=FOLLOW_UP_CATEGORY,
            channel=channel,
            description=None,
            opened_by=recorded_by,
            priority="high",
            complexity="complex",
            product=product,
            answer_id=answer.id,
        )
    return AnswerOut.model_validate(answer).model_copy(update={"follow_up_case_id": follow_up and follow_up.id})


async def invite(
    session: AsyncSession, body: InvitationCreate, actor: Actor, settings: FeedbackSettings
) -> InvitationOut:
    await tier_of_known(session, body.customer_id)
    await check_rated_case(session, body.customer_id, body.case_id)
    invitation, token = await invitations.issue(session, settings, body, created_by=actor.id)
    return InvitationOut.model_validate({**InvitationOut.fields_of(invitation), "token": token})


async def answer_invitation(
    session: AsyncSession, settings: FeedbackSettings, *, token: str, score: int, comment: str | None
) -> AnswerOut:
    """One answer per invitation: the invitation row is locked, checked and marked in the same
    transaction as the answer, so two concurrent answers cannot both count."""
    invitation = await session.scalar(
        sa.select(SurveyInvitation)
        .where(SurveyInvitation.token_hash == invitations.token_hash(token))
        .with_for_update()
    )
    if invitation is None:
        raise NotFound("No survey invitation matches this token; check the link you received.")
    if invitation.answered_at is not None:
        raise Conflict("This survey invitation has already been answered; each invitation takes one answer.")
    if invitation.expires_at <= now():
        raise InvitationGone("This survey invitation has expired.")
    if error := score_error(invitation.survey, score):
        raise Problem(
            "Check these fields: score.",
            status=422,
            title="Invalid request",
            errors=[{"field": "score", "message": error.message()}],
        )
    invitation.answered_at = now()
    return await record(
        session,
        settings,
        customer_id=invitation.customer_id,
        survey=invitation.survey,
        score=score,
        channel=invitation.channel,
        comment=comment,
        recorded_by="invitation",
        case_id=invitation.case_id,
        interaction_id=invitation.interaction_id,
        product=invitation.product,
        invitation_id=invitation.id,
    )
