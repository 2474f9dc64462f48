"""The churn service's event handlers: each event folds into the customer's features, earns
points where the earning rules say so, and re-scores the customer; rising a band warns
(`churn.warning` with the top reasons) and starts the band's playbook.

A customer gets a band (and warnings) once their record is known from a customer.* event.

Each event locks the customer's row (SELECT ... FOR UPDATE) until its transaction ends, so
events of one customer arriving on different topics at once apply one after the other, and the
band read is the one the previous event left.
"""

import copy
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import ChurnWarningV1
from events.contracts.envelope import Envelope
from events.contracts.terms import Stage, Tier
from events.store import upsert_insert
from services.churn.base import outbox
from services.churn.features import value
from services.churn.features.definitions import apply, event_time, is_low_csat, is_nps_detractor
from services.churn.features.models import CustomerFeatures
from services.churn.playbooks import service as playbooks
from services.churn.playbooks.models import RetentionTask
from services.churn.points import ledger
from services.churn.risk.online import OnlineScorer, rank
from services.churn.settings import ChurnSettings
from services.kit.clock import now


async def locked_features(session: AsyncSession, customer_id: str) -> CustomerFeatures:
    """The customer's row, created on the first event about them, locked until the transaction ends."""
    await session.execute(
        upsert_insert(session, CustomerFeatures)
        .values(
            customer_id=customer_id,
            complaints=0,
            low_csat=0,
            nps_detractors=0,
            state={},
            score=0,
            level="low",
            updated_at=now(),
            first_seen_at=now(),
        )
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    query = (
        sa.select(CustomerFeatures)
        .where(CustomerFeatures.customer_id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one()


def _fold(row: CustomerFeatures, event_type: str, moment: datetime, payload) -> None:
    state = copy.deepcopy(row.state or {})
    apply(state, event_type, moment, payload)
    row.state = state  # a new object, so the JSON column is written


async def record_contact(session: AsyncSession, customer_id: str, moment: datetime) -> None:
    """A retention call reached the customer: contact history, a feature."""
    _fold(await locked_features(session, customer_id), "retention.contact", moment, None)


class ChurnEvents:
    def __init__(self, settings: ChurnSettings, scorer: OnlineScorer | None = None):
        self.settings = settings
        self.scorer = scorer or OnlineScorer(settings)

    def handlers(self) -> dict:
        return {
            "customer.created": self.on_event,
            "customer.updated": self.on_event,
            "customer.manager_changed": self.on_event,
            "customer.tier_changed": self.on_event,
            "customer.lifecycle_changed": self.on_event,
            "customer.erased": self.on_customer_erased,
            "feedback.received": self.on_event,
            "complaint.opened": self.on_event,
            "transaction.posted": self.on_event,
            "balance.snapshot": self.on_event,
            "corebanking.product_opened": self.on_event,
            "corebanking.product_closed": self.on_event,
        }

    async def on_event(self, session: AsyncSession, envelope: Envelope, payload) -> None:
        row = await locked_features(session, envelope.customer_id)
        moment = event_time(envelope.type, envelope.time, payload)
        manager = row.manager_id
        self._rules_inputs(row, envelope, payload)
        if row.manager_id != manager:  # open tasks follow the customer to their new manager
            await session.execute(
                sa.update(RetentionTask)
                .where(RetentionTask.customer_id == row.customer_id, RetentionTask.status == "open")
                .values(manager_id=row.manager_id)
            )
        _fold(row, envelope.type, moment, payload)
        await self._earn(session, row, envelope, payload)
        await self._reassess(session, row)
        value.set_value(row, self.settings)

    def _rules_inputs(self, row: CustomerFeatures, envelope: Envelope, payload) -> None:
        kind = envelope.type
        if kind in ("customer.created", "customer.updated"):
            if payload.relationship_manager_id is not None or "relationship_manager_id" in getattr(
                payload, "changed_fields", []
            ):
                row.manager_id = payload.relationship_manager_id
            # An older customer event never overwrites newer assets.
            if row.customer_event_time is None or row.customer_event_time <= envelope.time:
                assets = Decimal(payload.assets_under_management)
                row.previous_assets, row.assets_under_management = row.assets_under_management, assets
                row.peak_assets = max(row.peak_assets or assets, assets)
                row.customer_event_time = envelope.time
        elif kind == "customer.manager_changed":
            row.manager_id = payload.manager_id
        elif kind == "customer.tier_changed":
            row.tier = payload.tier
        elif kind == "customer.lifecycle_changed":
            row.churned_at = envelope.time if payload.stage == Stage.CHURNED else None
        elif kind == "feedback.received":
            row.last_feedback_survey, row.last_feedback_score = payload.survey, payload.score
            row.low_csat += int(is_low_csat(payload.survey, payload.score))
            row.nps_detractors += int(is_nps_detractor(payload.survey, payload.score))
        elif kind == "complaint.opened":
            row.complaints += 1

    async def _earn(self, session: AsyncSession, row: CustomerFeatures, envelope: Envelope, payload) -> None:
        """Earning rules (settings): spending by tier, surveys answered. One movement per event id."""
        s = self.settings
        points, reason = 0, ""
        if envelope.type == "transaction.posted" and payload.direction == "debit":
            multiplier = s.points_tier_multiplier.get(Tier(row.tier or Tier.MASS), 1)
            points, reason = int(payload.amount // 100) * s.points_per_100_spent * multiplier, "spending"
        elif envelope.type == "feedback.received":
            points, reason = s.points_per_survey, "survey_answered"
        if points > 0 and row.churned_at is None:
            await ledger.earn(
                session,
                customer_id=row.customer_id,
                points=points,
                source_id=f"event:{envelope.id}",
                reason=reason,
                valid_days=s.points_expire_after_days,
            )

    async def _reassess(self, session: AsyncSession, row: CustomerFeatures) -> None:
        assessment = self.scorer.assess(row, now())
        if row.customer_event_time is None:
            # Activity that arrives before the customer record (a core-banking backfill, say)
            # only builds features: no band, warning or playbook for a customer not yet known.
            return
        previous = row.level
        if rank(assessment.level) > rank(previous) and row.churned_at is None:
            warning = ChurnWarningV1(
                customer_id=row.customer_id,
                score=assessment.score,
                level=assessment.level,
                previous_level=previous,
                reasons=assessment.reasons,
                model=assessment.model,
            )
            await outbox.emit(session, "churn.warning", warning)
            await playbooks.start(
                session,
                customer_id=row.customer_id,
                manager_id=row.manager_id,
                band=assessment.level,
                previous_band=previous,
                probability=assessment.probability,
                model=assessment.model,
                reasons=assessment.reasons,
                settings=self.settings,
            )
        row.score, row.level, row.probability = assessment.score, assessment.level, assessment.probability
        row.model, row.updated_at = assessment.model, now()

    async def on_customer_erased(self, session: AsyncSession, envelope: Envelope, payload) -> None:
        """Forget the customer's behavioural features (R2.2); tasks lose their link to a manager.
        Warnings already published stay on their topic under the customer id, a random
        identifier, not personal data; the points ledger is a financial record and stays."""
        await session.execute(sa.delete(CustomerFeatures).where(CustomerFeatures.customer_id == payload.customer_id))
        await session.execute(
            sa.update(RetentionTask)
            .where(RetentionTask.customer_id == payload.customer_id, RetentionTask.status == "open")
            .values(status="cancelled", outcome="customer_erased", completed_at=now())
        )
