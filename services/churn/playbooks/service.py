"""Retention playbooks (R4.3): what happens when a customer rises a churn band.

    high    a task for the relationship manager: call within 24 h with a retention offer
            (points granted if the customer accepts)
    medium  a call-back, and a satisfaction survey: `churn.survey_requested`, for the feedback
            service to invite the customer (its invitation goes out as `survey.invited`)
    low     no task: points and basic care through the ordinary earning rules

A hold-out group, chosen by a hash of the customer id (stable, about `holdout_fraction` of
customers), gets no intervention; its episodes are recorded all the same, so retention by band
can be compared treated vs control.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import Channel, ChurnSurveyRequestedV1, Survey
from events.contracts.terms import ChurnBand
from services.churn.base import outbox
from services.churn.playbooks.models import Intervention, RetentionTask
from services.churn.settings import ChurnSettings
from services.kit.clock import now

Outcome = Literal["retained", "offer_accepted", "declined", "unreachable", "not_needed"]


@dataclass(frozen=True)
class Step:
    kind: str
    within_hours: int
    offer_points: int


def playbook(band: str, settings: ChurnSettings) -> list[Step]:
    if band == ChurnBand.HIGH:
        return [Step("retention_call", settings.high_call_within_hours, settings.points_retention_offer)]
    if band == ChurnBand.MEDIUM:
        return [Step("callback", settings.medium_callback_within_hours, 0)]
    return []


def surveys(band: str, settings: ChurnSettings) -> list[tuple[Survey, Channel]]:
    """The surveys the band's playbook asks the customer (survey, where to answer)."""
    if band == ChurnBand.MEDIUM:
        return [(settings.medium_survey, settings.medium_survey_channel)]
    return []


def in_holdout(customer_id: str, settings: ChurnSettings) -> bool:
    digest = hashlib.sha256(f"{settings.holdout_salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < settings.holdout_fraction


async def start(
    session: AsyncSession,
    *,
    customer_id: str,
    manager_id: str | None,
    band: str,
    previous_band: str,
    probability: float,
    model: str,
    reasons: list[str],
    settings: ChurnSettings,
) -> tuple[Intervention, list[RetentionTask]]:
    moment = now()
    control = in_holdout(customer_id, settings)
    intervention = Intervention(
        id=str(uuid.uuid4()),
        customer_id=customer_id,
        band=band,
        previous_band=previous_band,
        group="control" if control else "treated",
        probability=probability,
        model=model,
        reasons=reasons,
        created_at=moment,
    )
    session.add(intervention)
    tasks = (
        []
        if control
        else [
            RetentionTask(
                id=str(uuid.uuid4()),
                intervention_id=intervention.id,
                customer_id=customer_id,
                manager_id=manager_id,
                kind=step.kind,
                band=band,
                offer_points=step.offer_points,
                due_at=moment + timedelta(hours=step.within_hours),
                status="open",
                created_at=moment,
            )
            for step in playbook(band, settings)
        ]
    )
    session.add_all(tasks)
    await session.flush()
    if not control:
        await outbox.emit_many(
            session,
            [
                (
                    "churn.survey_requested",
                    ChurnSurveyRequestedV1(
                        customer_id=customer_id, intervention_id=intervention.id, survey=survey, channel=channel
                    ),
                )
                for survey, channel in surveys(band, settings)
            ],
        )
    return intervention, tasks
