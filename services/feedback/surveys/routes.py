from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, status

from services.feedback.cases.models import Case
from services.feedback.common import Scope, settings_of
from services.feedback.surveys import service
from services.feedback.surveys.models import SurveyAnswer
from services.feedback.surveys.schemas import (
    AnswerCreate,
    AnswerOut,
    AnswerPage,
    AnswerRead,
    AnswerReceipt,
    InvitationCreate,
    InvitationOut,
    Survey,
    TokenAnswer,
)
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.pagination import Keyset
from services.kit.params import ID_PATTERN
from services.kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["surveys"], responses=PROBLEM_RESPONSES)
NEWEST_FIRST = Keyset(SurveyAnswer.received_at, SurveyAnswer.id, descending=True)


@router.post("/feedback", status_code=status.HTTP_201_CREATED, response_model=AnswerOut)
async def record_feedback(body: AnswerCreate, session: SessionDep, actor: ActorDep, request: Request) -> AnswerOut:
    """Records an answer given outside an invitation (e.g. in the app after a transaction)."""
    async with session.begin():
        await Scope(actor, settings_of(request)).require_for_new(session, body.customer_id)
        await service.check_rated_case(session, body.customer_id, body.case_id)
        return await service.record(session, settings_of(request), recorded_by=actor.id, **body.model_dump())


@router.post("/survey-invitations", status_code=status.HTTP_201_CREATED, response_model=InvitationOut)
async def invite(body: InvitationCreate, session: SessionDep, actor: ActorDep, request: Request) -> InvitationOut:
    async with session.begin():
        await Scope(actor, settings_of(request)).require_for_new(session, body.customer_id)
        return await service.invite(session, body, actor, settings_of(request))


@router.post("/survey-answers", status_code=status.HTTP_201_CREATED, response_model=AnswerReceipt)
async def answer(body: TokenAnswer, session: SessionDep, request: Request) -> AnswerOut:
    """Answers an invitation, once; no login: the invitation token is the credential."""
    async with session.begin():
        return await service.answer_invitation(
            session, settings_of(request), token=body.token, score=body.score, comment=body.comment
        )


@router.get("/survey-answers", response_model=AnswerPage)
async def list_answers(
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    customer_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    survey: Survey | None = None,
    channel: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$")] = None,
    case_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    detractor: bool | None = None,
    received_from: Annotated[datetime | None, Query(alias="from")] = None,
    received_to: Annotated[datetime | None, Query(alias="to")] = None,
    after: Annotated[str | None, Query(description="Cursor from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AnswerPage:
    """Newest first, each with the follow-up case a detractor's answer opened."""
    filters = [
        column == value
        for column, value in (
            (SurveyAnswer.customer_id, customer_id),
            (SurveyAnswer.survey, survey),
            (SurveyAnswer.channel, channel),
            (SurveyAnswer.case_id, case_id),
            (SurveyAnswer.detractor, detractor),
        )
        if value is not None
    ]
    if received_from is not None:
        filters.append(SurveyAnswer.received_at >= received_from)
    if received_to is not None:
        filters.append(SurveyAnswer.received_at < received_to)
    follow_up = sa.select(Case.id).where(Case.answer_id == SurveyAnswer.id, Case.reopened_from.is_(None)).limit(1)
    query = sa.select(SurveyAnswer, follow_up.scalar_subquery().label("follow_up_case_id")).where(*filters)
    query = Scope(actor, settings_of(request)).restrict(query, SurveyAnswer.customer_id)
    async with session.begin():
        found = (await session.execute(NEWEST_FIRST.apply(query, after, limit))).all()
    page, next_cursor = NEWEST_FIRST.page(found, limit, keyed=lambda row: row.SurveyAnswer)
    items = [
        AnswerRead.model_validate(row.SurveyAnswer).model_copy(update={"follow_up_case_id": row.follow_up_case_id})
        for row in page
    ]
    return AnswerPage(items=items, next_cursor=next_cursor)
