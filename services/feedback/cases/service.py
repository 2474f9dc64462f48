"""Case life cycle: opened → acknowledged → in progress ⇄ waiting on the customer → resolved →
followed up → closed. The follow-up (R3.1: the customer called back once the case is resolved)
records what they said, and a request or complaint closes only after it; a detractor's follow-up
case, itself the call back, closes once resolved. A closed case is frozen; reopening opens a new
case linked to it."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CaseClosedV1, CaseOpenedV1, CaseResolvedV1, ComplaintOpenedV1
from services.feedback.cases.models import Case, CaseNote
from services.feedback.cases.schemas import Assignment, CaseOut, ClockOut
from services.feedback.customers.models import tier_of_known
from services.feedback.db import outbox
from services.feedback.kpis import rollup
from services.feedback.settings import FOLLOW_UP_CATEGORY, FeedbackSettings
from services.feedback.sla import service as sla
from services.feedback.sla.models import SlaClock
from services.feedback.surveys import invitations
from services.feedback.surveys.models import SurveyAnswer
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.problems import Conflict, Problem

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({"opened"}), "acknowledged"),
    "start": (frozenset({"acknowledged"}), "in_progress"),
    "wait": (frozenset({"acknowledged", "in_progress"}), "waiting_on_customer"),
    "resume": (frozenset({"waiting_on_customer"}), "in_progress"),
    "resolve": (frozenset({"acknowledged", "in_progress", "waiting_on_customer"}), "resolved"),
    "follow-up": (frozenset({"resolved"}), "followed_up"),
    "close": (frozenset({"followed_up"}), "closed"),
}
# A detractor's follow-up case is the call back itself: it closes from resolved as well.
FOLLOW_UP_CASE_CLOSES_FROM = frozenset({"resolved", "followed_up"})
REOPENABLE = frozenset({"resolved", "followed_up", "closed"})


class CaseClosed(Conflict):
    title = "Case closed"


class InvalidCategory(Problem):
    status = 422
    title = "Invalid request"


def _sources(case: Case, action: str) -> frozenset[str]:
    """The states `action` may start from, for this case."""
    if action == "close" and case.kind == "follow_up":
        return FOLLOW_UP_CASE_CLOSES_FROM
    return TRANSITIONS[action][0]


def actions(case: Case) -> list[str]:
    allowed = [name for name in TRANSITIONS if case.state in _sources(case, name)]
    return allowed + (["reopen"] if case.state in REOPENABLE else [])


def check_category(category: str, settings: FeedbackSettings) -> None:
    if category not in settings.case_categories or category == FOLLOW_UP_CATEGORY:
        known = ", ".join(sorted(c for c in settings.case_categories if c != FOLLOW_UP_CATEGORY))
        raise InvalidCategory(
            f"Unknown case category; use one of: {known}.",
            errors=[{"field": "category", "message": f"must be one of: {known}"}],
        )


async def open_case(
    session: AsyncSession,
    settings: FeedbackSettings,
    *,
    customer_id: str,
    kind: str,
    category: str,
    channel: str,
    description: str | None,
    opened_by: str,
    priority: str = "normal",
    complexity: str = "simple",
    product: str | None = None,
    reopened_from: str | None = None,
    answer_id: str | None = None,
) -> Case:
    moment = now()
    tier = await tier_of_known(session, customer_id)
    case = Case(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        kind=kind,
        category=category,
        channel=channel,
        priority=priority,
        complexity=complexity,
        product=product,
        tier=tier,
        state="opened",
        description=description,
        reopened_from=reopened_from,
        answer_id=answer_id,
        opened_by=opened_by,
        opened_at=moment,
        updated_at=moment,
        sla_breached=False,
    )
    session.add(case)
    await session.flush()
    sla.start(session, case, settings)
    await rollup.count_case(session, case, cases=1, complaints=int(kind == "complaint" and reopened_from is None))
    events: list = [
        (
            "case.opened",
            CaseOpenedV1(
                case_id=case.id,
                customer_id=customer_id,
                kind=kind,
                category=category,
                channel=channel,
                priority=priority,
                complexity=complexity,
                reopened_from=reopened_from,
            ),
        )
    ]
    if kind == "complaint" and reopened_from is None:
        events.append(
            (
                "complaint.opened",
                ComplaintOpenedV1(
                    complaint_id=case.id,
                    customer_id=customer_id,
                    category=category,
                    channel=channel,
                ),
            )
        )
    await outbox.emit_many(session, events)
    return case


def refuse_if_closed(case: Case) -> None:
    if case.state == "closed":
        raise CaseClosed(
            "This case is closed and can no longer change. To take the matter up again, reopen it "
            f"(POST /api/v1/cases/{case.id}/reopen): that opens a new case linked to this one.",
            actions=actions(case),
        )


def _root_cause(case: Case, root_cause: str | None, settings: FeedbackSettings, *, required: bool) -> str | None:
    cause = root_cause or case.root_cause
    allowed = settings.case_categories[case.category].root_causes
    if cause is None:
        if required:
            raise Problem(
                f"Closing a case needs a root cause; for a {case.category} case one of: {', '.join(allowed)}.",
                status=422,
                title="Root cause required",
            )
        return None
    if cause not in allowed:
        raise Problem(
            f"Not a root cause of {case.category} cases; use one of: {', '.join(allowed)}.",
            status=422,
            title="Invalid root cause",
        )
    return cause


async def transition(
    session: AsyncSession,
    case: Case,
    action: str,
    actor: Actor,
    settings: FeedbackSettings,
    *,
    note: str | None = None,
    root_cause: str | None = None,
) -> Case:
    refuse_if_closed(case)
    sources, target = _sources(case, action), TRANSITIONS[action][1]
    if case.state not in sources:
        raise Conflict(
            f"A case that is {case.state.replace('_', ' ')} cannot {action.replace('-', ' ')}; "
            f"allowed now: {', '.join(actions(case)) or 'nothing'}.",
            actions=actions(case),
        )
    moment = now()
    if case.state == "waiting_on_customer" and target != "waiting_on_customer":
        await sla.resume(session, case.id)
    if action == "acknowledge":
        case.first_answer_at = moment
        await sla.meet(session, case, sla.FIRST_ANSWER)
        await rollup.count_case(
            session, case, answered=1, first_answer_hours=rollup.hours_between(moment, case.opened_at)
        )
    elif action == "wait":
        await sla.pause(session, case.id)
    elif action == "resolve":
        case.root_cause = _root_cause(case, root_cause, settings, required=False)
        case.resolved_at = moment
        if case.kind != "follow_up":
            await sla.meet(session, case, sla.RESOLUTION)
        await rollup.count_case(
            session,
            case,
            resolved=1,
            resolve_hours=rollup.hours_between(moment, case.opened_at),
            resolved_originals=int(case.reopened_from is None),
        )
    elif action == "follow-up":
        case.followed_up_at = moment
    elif action == "close":
        case.root_cause = _root_cause(case, root_cause, settings, required=True)
        case.closed_at = moment
        if case.kind == "follow_up":  # a detractor's follow-up must be closed in time
            await sla.meet(session, case, sla.RESOLUTION)
            await _count_closed_loop(session, case)
        await sla.stop_all(session, case)
    case.state, case.updated_at = target, moment
    if note:
        add_note(session, case, note, actor)
    await session.flush()
    if action == "resolve":
        await outbox.emit(
            session,
            "case.resolved",
            CaseResolvedV1(
                case_id=case.id,
                customer_id=case.customer_id,
                kind=case.kind,
                category=case.category,
                root_cause=case.root_cause,
                sla_breached=case.sla_breached,
            ),
        )
        await invitations.invite_after_resolution(session, case, settings)
    elif action == "close":
        await outbox.emit(
            session,
            "case.closed",
            CaseClosedV1(
                case_id=case.id,
                customer_id=case.customer_id,
                kind=case.kind,
                category=case.category,
                root_cause=case.root_cause,
                sla_breached=case.sla_breached,
            ),
        )
    return case


async def _count_closed_loop(session: AsyncSession, case: Case) -> None:
    """A detractor's follow-up closed in time closes the loop, counted with the answer."""
    if case.reopened_from is None and case.answer_id and not case.sla_breached:
        answer = await session.get(SurveyAnswer, case.answer_id)
        if answer is not None:
            await rollup.count_answer(session, answer, in_time=1)


async def reopen(session: AsyncSession, case: Case, actor: Actor, settings: FeedbackSettings, note: str | None) -> Case:
    if case.state not in REOPENABLE:
        raise Conflict(
            f"Only a resolved or closed case can be reopened; this one is {case.state.replace('_', ' ')}.",
            actions=actions(case),
        )
    if case.reopened_from is None and not await session.scalar(sa.select(Case.id).where(Case.reopened_from == case.id)):
        await rollup.count_case(session, case, reopened=1)  # the reopen rate counts a case once
    return await open_case(
        session,
        settings,
        customer_id=case.customer_id,
        kind=case.kind,
        category=case.category,
        channel=case.channel,
        description=note,
        opened_by=actor.id,
        priority=case.priority,
        complexity=case.complexity,
        product=case.product,
        reopened_from=case.id,
        answer_id=case.answer_id,
    )


def assign(case: Case, body: Assignment) -> None:
    refuse_if_closed(case)
    if body.assignee is None and body.team is None:
        raise Problem("Name an `assignee`, a `team`, or both.", status=422, title="Invalid request")
    if body.assignee is not None:
        case.assignee = body.assignee
    if body.team is not None:
        case.team = body.team
    case.updated_at = now()


def add_note(session: AsyncSession, case: Case, text: str, actor: Actor) -> CaseNote:
    refuse_if_closed(case)
    note = CaseNote(id=str(uuid.uuid4()), case_id=case.id, author=actor.id, body=text, created_at=now())
    session.add(note)
    return note


async def view(session: AsyncSession, case: Case) -> CaseOut:
    clocks = await session.scalars(sa.select(SlaClock).where(SlaClock.case_id == case.id).order_by(SlaClock.id))
    return CaseOut.model_validate(case).model_copy(
        update={"clocks": [ClockOut.model_validate(c) for c in clocks], "actions": actions(case)}
    )
