from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.cases import service
from services.feedback.cases.models import Case, CaseNote
from services.feedback.cases.schemas import (
    Assignment,
    CaseCreate,
    CaseOut,
    CasePage,
    CaseState,
    Closing,
    ComplaintCreate,
    ComplaintOut,
    FollowUp,
    NoteCreate,
    NoteOut,
    Resolution,
    Transition,
)
from services.feedback.common import Scope, settings_of
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.pagination import Keyset
from services.kit.params import ID_PATTERN, PathId
from services.kit.problems import PROBLEM_RESPONSES, Forbidden, NotFound

router = APIRouter(prefix="/api/v1", tags=["cases"], responses=PROBLEM_RESPONSES)
NEWEST_FIRST = Keyset(Case.opened_at, Case.id, descending=True)


def _scope(actor, request: Request) -> Scope:
    return Scope(actor, settings_of(request))


def _staff_only(scope: Scope) -> None:
    if scope.self_scoped:
        raise Forbidden("Only bank staff may work on a case; a customer may open, read and reopen their own.")


async def _visible_case(session: AsyncSession, scope: Scope, case_id: str, *, for_update: bool = True) -> Case:
    """The case, locked for the change about to be made; 404 when the caller may not see it."""
    case = await session.get(Case, case_id, with_for_update=for_update)
    if case is None or not await scope.may_see(session, case.customer_id):
        raise NotFound("No case has this id.")
    return case


async def _open(session: AsyncSession, request: Request, actor, body, kind: str) -> Case:
    settings = settings_of(request)
    service.check_category(body.category, settings)
    await _scope(actor, request).require_for_new(session, body.customer_id)
    return await service.open_case(
        session,
        settings,
        customer_id=body.customer_id,
        kind=kind,
        category=body.category,
        channel=body.channel,
        description=body.description,
        opened_by=actor.id,
        priority=body.priority,
        complexity=body.complexity,
        product=body.product,
    )


@router.post("/cases", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def open_case(body: CaseCreate, session: SessionDep, actor: ActorDep, request: Request) -> CaseOut:
    async with session.begin():
        case = await _open(session, request, actor, body, body.kind)
        return await service.view(session, case)


@router.post("/complaints", tags=["complaints"], status_code=status.HTTP_201_CREATED, response_model=ComplaintOut)
async def open_complaint(body: ComplaintCreate, session: SessionDep, actor: ActorDep, request: Request) -> Case:
    """Opens a case of kind `complaint` (see /api/v1/cases for reading and working on it)."""
    async with session.begin():
        return await _open(session, request, actor, body, "complaint")


@router.get("/cases", response_model=CasePage)
async def list_cases(
    session: SessionDep,
    actor: ActorDep,
    request: Request,
    customer_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    state: CaseState | None = None,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$")] = None,
    category: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,32}$")] = None,
    channel: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$")] = None,
    assignee: Annotated[str | None, Query(max_length=128)] = None,
    sla_breached: bool | None = None,
    opened_from: Annotated[datetime | None, Query(alias="from")] = None,
    opened_to: Annotated[datetime | None, Query(alias="to")] = None,
    after: Annotated[str | None, Query(description="Cursor from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Newest first. A customer sees their own cases, a relationship manager their customers'."""
    filters = [
        column == value
        for column, value in (
            (Case.customer_id, customer_id),
            (Case.state, state),
            (Case.kind, kind),
            (Case.category, category),
            (Case.channel, channel),
            (Case.assignee, assignee),
            (Case.sla_breached, sla_breached),
        )
        if value is not None
    ]
    if opened_from is not None:
        filters.append(Case.opened_at >= opened_from)
    if opened_to is not None:
        filters.append(Case.opened_at < opened_to)
    query = _scope(actor, request).restrict(sa.select(Case).where(*filters), Case.customer_id)
    async with session.begin():
        page, next_cursor = NEWEST_FIRST.page(
            list(await session.scalars(NEWEST_FIRST.apply(query, after, limit))), limit
        )
    return CasePage(
        items=[CaseOut.model_validate(case).model_copy(update={"actions": service.actions(case)}) for case in page],
        next_cursor=next_cursor,
    )


@router.get("/cases/{case_id}", response_model=CaseOut)
async def read_case(case_id: PathId, session: SessionDep, actor: ActorDep, request: Request) -> CaseOut:
    async with session.begin():
        case = await _visible_case(session, _scope(actor, request), case_id, for_update=False)
        return await service.view(session, case)


def _transition_route(action: str, body_type):
    async def change(
        case_id: PathId,
        body: body_type,
        session: SessionDep,
        actor: ActorDep,
        request: Request,
    ) -> CaseOut:
        scope = _scope(actor, request)
        _staff_only(scope)
        async with session.begin():
            case = await _visible_case(session, scope, case_id)
            await service.transition(
                session,
                case,
                action,
                actor,
                settings_of(request),
                note=body.note,
                root_cause=getattr(body, "root_cause", None),
            )
            return await service.view(session, case)

    change.__name__ = f"{action.replace('-', '_')}_case"
    change.__doc__ = (
        f"Transition `{action}`: from {', '.join(sorted(service.TRANSITIONS[action][0]))} to "
        f"{service.TRANSITIONS[action][1]}."
        + (" A detractor's follow-up case closes from resolved too." if action == "close" else "")
    )
    return change


for _action in service.TRANSITIONS:
    _body = {"resolve": Resolution, "follow-up": FollowUp, "close": Closing}.get(_action, Transition)
    router.add_api_route(
        f"/cases/{{case_id}}/{_action}", _transition_route(_action, _body), methods=["POST"], response_model=CaseOut
    )


@router.post("/cases/{case_id}/reopen", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def reopen_case(
    case_id: PathId, body: Transition, session: SessionDep, actor: ActorDep, request: Request
) -> CaseOut:
    """Opens a new case linked to this resolved or closed one (`reopened_from`)."""
    async with session.begin():
        case = await _visible_case(session, _scope(actor, request), case_id)
        reopened = await service.reopen(session, case, actor, settings_of(request), body.note)
        return await service.view(session, reopened)


@router.post("/cases/{case_id}/assignment", response_model=CaseOut)
async def assign_case(
    case_id: PathId, body: Assignment, session: SessionDep, actor: ActorDep, request: Request
) -> CaseOut:
    scope = _scope(actor, request)
    _staff_only(scope)
    async with session.begin():
        case = await _visible_case(session, scope, case_id)
        service.assign(case, body)
        return await service.view(session, case)


@router.post("/cases/{case_id}/notes", status_code=status.HTTP_201_CREATED, response_model=NoteOut)
async def add_note(
    case_id: PathId, body: NoteCreate, session: SessionDep, actor: ActorDep, request: Request
) -> CaseNote:
    scope = _scope(actor, request)
    _staff_only(scope)
    async with session.begin():
        case = await _visible_case(session, scope, case_id)
        return service.add_note(session, case, body.text, actor)


@router.get("/cases/{case_id}/notes", response_model=list[NoteOut])
async def list_notes(case_id: PathId, session: SessionDep, actor: ActorDep, request: Request) -> list[CaseNote]:
    """Staff notes, oldest first (internal: not shown to customers)."""
    scope = _scope(actor, request)
    _staff_only(scope)
    async with session.begin():
        await _visible_case(session, scope, case_id, for_update=False)
        return list(
            await session.scalars(
                sa.select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.created_at, CaseNote.id)
            )
        )
