"""Retention tasks over HTTP: a relationship manager sees and completes only their customers' tasks."""

from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from events.contracts.terms import ChurnBand
from services.churn.features import events as feature_events
from services.churn.playbooks.models import RetentionTask
from services.churn.playbooks.service import Outcome
from services.churn.points import ledger
from services.churn.settings import ChurnSettings
from services.kit.clock import now
from services.kit.db import SessionDep
from services.kit.identity import Actor, ActorDep
from services.kit.params import ID_PATTERN, PathId
from services.kit.problems import PROBLEM_RESPONSES, Conflict, Forbidden, NotFound

router = APIRouter(prefix="/api/v1/retention-tasks", tags=["retention"], responses=PROBLEM_RESPONSES)
WRITING_ROLES = {"relationship_manager", "admin"}


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    manager_id: str | None
    # satisfaction_survey: tasks made before the survey was sent through the feedback service.
    kind: Literal["retention_call", "callback", "satisfaction_survey"]
    band: ChurnBand
    offer_points: int
    due_at: datetime
    status: Literal["open", "done", "cancelled"]
    outcome: str | None
    completed_at: datetime | None
    completed_by: str | None
    created_at: datetime


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome


def _visible(query, actor: Actor, settings: ChurnSettings):
    if actor.role in settings.assigned_only_roles:
        return query.where(RetentionTask.manager_id == actor.id)
    return query


@router.get("", response_model=list[TaskOut])
async def list_tasks(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[Literal["open", "done", "cancelled"] | None, Query()] = None,
    customer_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list:
    """Tasks, soonest due first; a relationship manager gets only their own customers' tasks."""
    query = _visible(sa.select(RetentionTask), actor, request.app.state.settings)
    if status:
        query = query.where(RetentionTask.status == status)
    if customer_id:
        query = query.where(RetentionTask.customer_id == customer_id)
    return list(await session.scalars(query.order_by(RetentionTask.due_at, RetentionTask.id).limit(limit)))


async def _task(session, task_id: str, actor: Actor, request: Request, *, lock: bool = False) -> RetentionTask:
    query = _visible(sa.select(RetentionTask).where(RetentionTask.id == task_id), actor, request.app.state.settings)
    task = await session.scalar(query.with_for_update() if lock else query)
    if task is None:
        raise NotFound("No retention task has this id.")
    return task


@router.get("/{task_id}", response_model=TaskOut)
async def get_task(task_id: PathId, session: SessionDep, actor: ActorDep, request: Request) -> RetentionTask:
    return await _task(session, task_id, actor, request)


@router.post("/{task_id}/outcome", response_model=TaskOut)
async def record_outcome(task_id: PathId, body: OutcomeIn, session: SessionDep, actor: ActorDep, request: Request):
    """Close the task with its outcome; an accepted retention offer grants its points."""
    if actor.role not in WRITING_ROLES:
        raise Forbidden(f"The role '{actor.role}' may not record task outcomes.")
    settings = request.app.state.settings
    async with session.begin():
        task = await _task(session, task_id, actor, request, lock=True)
        if task.status != "open":
            raise Conflict(f"The task is already {task.status} (outcome: {task.outcome}).")
        task.status, task.outcome, task.completed_at, task.completed_by = "done", body.outcome, now(), actor.id
        if body.outcome == "offer_accepted" and task.offer_points:
            await ledger.earn(
                session,
                customer_id=task.customer_id,
                points=task.offer_points,
                source_id=f"retention-task:{task.id}",
                reason="retention_offer",
                valid_days=settings.points_expire_after_days,
            )
        if body.outcome != "unreachable":
            await feature_events.record_contact(session, task.customer_id, task.completed_at)
    return task
