"""SLA clocks of a case: started with it, paused while waiting on the customer, met by the
event they measure, and acted on by `escalate_due` when their warning or breach time comes.

Deadlines are rows. `escalate_due` claims due rows with FOR UPDATE SKIP LOCKED on PostgreSQL
(as the outbox relay claims events), acts and emits in the same transaction: however many
replicas run it, and however often the service restarts, each warning and each escalation
happens once.
"""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.contracts import CaseSlaV1
from services.feedback.cases.models import Case
from services.feedback.db import outbox
from services.feedback.kpis import rollup
from services.feedback.settings import FeedbackSettings
from services.feedback.sla.models import SlaClock
from services.kit.clock import now

FIRST_ANSWER = "first_answer"
RESOLUTION = "resolution"


def targets(case: Case, settings: FeedbackSettings) -> dict[str, float]:
    """Hours each clock of `case` allows, from its category's configuration."""
    sla = settings.case_categories[case.category].sla
    return {
        FIRST_ANSWER: sla.first_answer_hours,
        RESOLUTION: sla.resolve_hours if case.complexity == "complex" else sla.simple_resolve_hours,
    }


def start(session: AsyncSession, case: Case, settings: FeedbackSettings) -> None:
    fraction = settings.case_categories[case.category].sla.warning_fraction
    for kind, hours in targets(case, settings).items():
        warning_at = case.opened_at + timedelta(hours=hours * fraction)
        session.add(
            SlaClock(
                case_id=case.id,
                customer_id=case.customer_id,
                kind=kind,
                state="running",
                started_at=case.opened_at,
                warning_at=warning_at,
                breach_at=case.opened_at + timedelta(hours=hours),
                next_due_at=warning_at,
                breached=False,
            )
        )


async def _clocks(session: AsyncSession, case_id: str, *states: str) -> list[SlaClock]:
    query = sa.select(SlaClock).where(SlaClock.case_id == case_id, SlaClock.state.in_(states)).with_for_update()
    return list(await session.scalars(query))


async def pause(session: AsyncSession, case_id: str) -> None:
    """Waiting on the customer: the clocks stand still until `resume`."""
    for clock in await _clocks(session, case_id, "running"):
        clock.state, clock.paused_at = "paused", now()


async def resume(session: AsyncSession, case_id: str) -> None:
    """Every deadline moves on by the time spent waiting."""
    moment = now()
    for clock in await _clocks(session, case_id, "paused"):
        assert clock.paused_at is not None  # `pause` sets it with the state
        waited = moment - clock.paused_at
        clock.warning_at += waited
        clock.breach_at += waited
        if clock.next_due_at is not None:
            clock.next_due_at += waited
        clock.state, clock.paused_at = "running", None


async def meet(session: AsyncSession, case: Case, kind: str) -> None:
    """The clock's event happened; it breached if that was after its (pause-adjusted) deadline."""
    moment = now()
    for clock in await _clocks(session, case.id, "running", "paused"):
        if clock.kind != kind:
            continue
        effective = clock.paused_at or moment  # a paused clock stopped counting when it paused
        clock.breached = clock.breached or effective > clock.breach_at
        clock.state, clock.met_at, clock.next_due_at, clock.paused_at = "met", moment, None, None
        if clock.breached:
            await mark_breached(session, case)


async def mark_breached(session: AsyncSession, case: Case) -> None:
    if not case.sla_breached:
        case.sla_breached = True
        await rollup.count_case(session, case, breached=1)


async def stop_all(session: AsyncSession, case: Case) -> None:
    """The case ended: clocks not met by now never will be."""
    for clock in await _clocks(session, case.id, "running", "paused"):
        clock.state, clock.next_due_at, clock.paused_at = "stopped", None, None


async def escalate_due(sessions: async_sessionmaker[AsyncSession], settings: FeedbackSettings) -> int:
    """Warn on clocks whose warning time has come, escalate those whose breach time has come;
    returns how many clocks were acted on (a bounded batch per call)."""
    async with sessions() as session, session.begin():
        postgres = session.get_bind().dialect.name == "postgresql"
        moment = now()
        query = (
            sa.select(SlaClock)
            .where(SlaClock.state == "running", SlaClock.next_due_at <= moment)
            .order_by(SlaClock.next_due_at)
            .limit(settings.sla_job_batch)
        )
        if postgres:
            query = query.with_for_update(skip_locked=True)
        clocks = list(await session.scalars(query))
        if not clocks:
            return 0
        # Cases being changed right now are left for the next run (never wait on a lock held by a
        # transition, which may itself be waiting on one of these clocks).
        case_query = sa.select(Case).where(Case.id.in_({c.case_id for c in clocks}))
        if postgres:
            case_query = case_query.with_for_update(skip_locked=True)
        cases = {case.id: case for case in await session.scalars(case_query)}
        handled = 0
        for clock in clocks:
            case = cases.get(clock.case_id)
            if case is None:
                continue
            handled += 1
            if clock.breach_at <= moment:
                # Due past its breach (also after an outage that spanned the warning): escalate
                # once; a warning that never went out is moot now.
                clock.escalated_at, clock.breached, clock.next_due_at = moment, True, None
                clock.warned_at = clock.warned_at or moment
                case.team, case.updated_at = settings.escalation_team, moment
                await mark_breached(session, case)
                case.escalated_at = case.escalated_at or moment
                await outbox.emit(
                    session,
                    "case.escalated",
                    CaseSlaV1(
                        case_id=case.id,
                        customer_id=case.customer_id,
                        clock=clock.kind,
                        breach_at=clock.breach_at,
                        escalated_to=settings.escalation_team,
                    ),
                )
            else:
                clock.warned_at, clock.next_due_at = moment, clock.breach_at
                await outbox.emit(
                    session,
                    "case.sla_warning",
                    CaseSlaV1(
                        case_id=case.id,
                        customer_id=case.customer_id,
                        clock=clock.kind,
                        breach_at=clock.breach_at,
                    ),
                )
        return handled
