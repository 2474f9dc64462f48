"""Screening a customer, the alerts it raises, and their two-person decisions.

A customer is screened at onboarding (creation), whenever their name, birth date or
nationality changes, and by the `rescreen-book` job for a new list version. A candidate at or
above the review threshold raises an alert unless that customer already has one for that entry,
or a false positive was decided for the same customer data and the same entry (fingerprints).
"""

import json
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import ScreeningClearedV1, ScreeningHitV1
from services.kit import crypto
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.problems import Conflict, Forbidden, NotFound
from services.profile.models import Customer, audit, outbox
from services.profile.screening.lists import ACTIVE
from services.profile.screening.matcher import Thresholds
from services.profile.screening.models import ScreeningAlert, ScreeningDecision, ScreeningDismissal, ScreeningRun
from services.profile.settings import ProfileSettings

SCREENED_FIELDS = frozenset({"name", "birth_date", "nationality"})
# Alerts that keep a customer from becoming active.
BLOCKING = ("open", "confirming", "true_match")
OUTCOMES = ("true_match", "false_positive")


def thresholds(settings: ProfileSettings) -> Thresholds:
    return Thresholds(match=settings.screening_match_threshold, review=settings.screening_review_threshold)


def reason_code(topics) -> str:
    if "sanction" in topics:
        return "sanctions_screening_hit"
    if "pep" in topics:
        return "pep_screening_hit"
    return "watchlist_screening_hit"


def customer_fingerprints(customer: Customer) -> list[str]:
    """Keyed hashes of what screening looked at, which change when name, birth date or nationality
    do: the current one first, then those under blind-index keys being rotated out (a dismissal
    recorded before the rotation still matches the same customer)."""
    screened = f"{customer.name}\x00{customer.birth_date}\x00{customer.nationality or ''}"
    return crypto.keyring().blind_indexes(screened, field="screening")


def customer_fingerprint(customer: Customer) -> str:
    return customer_fingerprints(customer)[0]


async def screen(
    session: AsyncSession, customer: Customer, *, trigger: str, settings: ProfileSettings
) -> list[ScreeningAlert]:
    """Screen one customer against every active list; raise (and announce) new alerts."""
    if customer.erased_at is not None or not customer.name:
        return []
    limits = thresholds(settings)
    # The current fingerprint is recorded on an alert; a dismissal under any of them still holds.
    fingerprints = customer_fingerprints(customer)
    raised = []
    for active in await ACTIVE.current(session):
        candidates = active.index.search(
            customer.name, birth_date=customer.birth_date, nationality=customer.nationality, limit=3
        )
        for candidate in candidates:
            decision = limits.decision(candidate.score)
            if decision == "clear":
                continue
            entry_print = active.fingerprints[candidate.entity_id]
            if await _already_known(session, customer.id, active.name, candidate.entity_id, entry_print, fingerprints):
                continue
            alert = await _raise(
                session,
                customer,
                list_name=active.name,
                list_version=active.version,
                entity_id=candidate.entity_id,
                entry_fingerprint=entry_print,
                customer_fingerprint=fingerprints[0],
                score=Decimal(str(candidate.score)),
                decision=decision,
                reason_code=reason_code(candidate.topics),
                reasons={"reasons": list(candidate.reasons), "topics": list(candidate.topics)},
                trigger=trigger,
            )
            raised.append(alert)
    return raised


# The bank's own book, as a "list": a new record whose national ID another customer already has.
BOOK = "customers"


async def flag_duplicate(session: AsyncSession, customer: Customer, original_id: str) -> ScreeningAlert:
    """Flag a new record that has the national ID of a customer its creator may not see, for two
    compliance officers to decide (same person: the records are merged; different: one national ID
    is wrong). Unlike a list hit it does not hold the record: a hold, like a refusal, would tell a
    manager that somebody banks with another manager."""
    return await _raise(
        session,
        customer,
        list_name=BOOK,
        list_version=0,
        entity_id=original_id,
        entry_fingerprint=customer.national_id_index,
        customer_fingerprint=customer_fingerprint(customer),
        score=Decimal("1.000"),
        decision="match",
        reason_code="duplicate_customer",
        reasons={"reasons": ["same national ID"], "topics": ["duplicate"]},
        trigger="onboarding",
    )


async def _raise(session: AsyncSession, customer: Customer, *, reasons: dict, **fields) -> ScreeningAlert:
    """Store an open alert on `customer` and announce it (`screening.hit`)."""
    alert = ScreeningAlert(
        id=str(uuid.uuid4()),
        customer_id=customer.id,
        reasons=json.dumps(reasons),
        status="open",
        created_at=now(),
        **fields,
    )
    session.add(alert)
    await session.flush()
    await outbox.emit(
        session,
        "screening.hit",
        ScreeningHitV1(
            customer_id=customer.id,
            alert_id=alert.id,
            list_name=alert.list_name,
            list_version=alert.list_version,
            reason_code=alert.reason_code,
            decision=alert.decision,
        ),
    )
    return alert


async def _already_known(session, customer_id, list_name, entity_id, entry_print, customer_prints) -> bool:
    pending = await session.scalar(
        sa.select(ScreeningAlert.id)
        .where(
            ScreeningAlert.customer_id == customer_id,
            ScreeningAlert.list_name == list_name,
            ScreeningAlert.entity_id == entity_id,
            ScreeningAlert.status.in_(BLOCKING),
        )
        .limit(1)
    )
    if pending:
        return True
    dismissal = await session.get(ScreeningDismissal, (customer_id, list_name, entity_id))
    return (
        dismissal is not None
        and dismissal.entry_fingerprint == entry_print
        and dismissal.customer_fingerprint in customer_prints
    )


async def blocking_alerts(session: AsyncSession, customer_id: str) -> list[ScreeningAlert]:
    return list(
        await session.scalars(
            sa.select(ScreeningAlert)
            .where(
                ScreeningAlert.customer_id == customer_id,
                ScreeningAlert.status.in_(BLOCKING),
                ScreeningAlert.list_name != BOOK,  # duplicates do not hold (flag_duplicate)
            )
            .order_by(ScreeningAlert.created_at)
        )
    )


async def guard_activation(session: AsyncSession, customer: Customer, actor: Actor, settings: ProfileSettings) -> None:
    """Refuse onboarding -> active while the customer awaits screening against a new list version
    or a hit is undecided or confirmed (customers imported in bulk are screened by the same job,
    but existing customers are not held back for an import's run). The reason code is given to everyone; which alerts (and
    so which list) only to compliance roles."""
    unscreened = await session.scalar(
        sa.select(ScreeningRun.id)
        .where(
            ScreeningRun.status == "pending",
            ScreeningRun.list_id.is_not(None),
            sa.or_(ScreeningRun.after_customer_id.is_(None), ScreeningRun.after_customer_id < customer.id),
        )
        .limit(1)
    )
    if unscreened:  # a new list version whose re-screening of the book has not reached them
        raise Conflict(
            "Onboarding cannot complete yet: reason code SCREENING_PENDING. The customer has not been "
            "screened against the current lists; try again in a few minutes.",
            reason_code="SCREENING_PENDING",
        )
    found = await blocking_alerts(session, customer.id)
    if not found:
        return
    confirmed = any(a.status == "true_match" for a in found)
    code = "SCREENING_TRUE_MATCH" if confirmed else "SCREENING_HIT_OPEN"
    detail = f"Onboarding cannot complete: reason code {code}. " + (
        "Compliance confirmed a screening match; the relationship cannot start."
        if confirmed
        else "A screening alert awaits a decision by two compliance officers."
    )
    extensions: dict[str, Any] = {"reason_code": code}
    if actor.role in settings.compliance_roles:
        extensions["alert_ids"] = [a.id for a in found]
    raise Conflict(detail, **extensions)


async def get_alert(session: AsyncSession, alert_id: str, *, for_update: bool = False) -> ScreeningAlert:
    alert = await session.get(ScreeningAlert, alert_id, with_for_update=for_update)
    if alert is None:
        raise NotFound("No screening alert has this id.")
    return alert


def require_compliance(actor: Actor, settings: ProfileSettings) -> None:
    if actor.role not in settings.compliance_roles:
        raise Forbidden("Only compliance officers may see or decide screening alerts.")


async def decide(
    session: AsyncSession, alert: ScreeningAlert, *, outcome: str, reason: str, actor: Actor, settings: ProfileSettings
) -> ScreeningAlert:
    """Record one officer's decision. The first proposes; a second, different officer agreeing
    closes the alert; a second officer disagreeing sends it back to open for a new pair."""
    require_compliance(actor, settings)
    if alert.status not in ("open", "confirming"):
        raise Conflict(f"This alert is already decided ({alert.status}).")
    if alert.status == "confirming":
        first = await session.scalar(
            sa.select(ScreeningDecision)
            .where(ScreeningDecision.alert_id == alert.id)
            .order_by(ScreeningDecision.id.desc())
            .limit(1)
        )
        if first is not None and first.actor == actor.id:
            raise Conflict("You proposed this decision; a second compliance officer must confirm it.")
    session.add(ScreeningDecision(alert_id=alert.id, actor=actor.id, outcome=outcome, reason=reason, at=now()))
    if alert.status == "open":
        alert.status, alert.proposed_outcome = "confirming", outcome
    elif alert.proposed_outcome != outcome:
        alert.status, alert.proposed_outcome = "open", None
    else:
        alert.status, alert.closed_at = outcome, now()
        if outcome == "false_positive":
            await _remember_false_positive(session, alert)
            await outbox.emit(
                session,
                "screening.cleared",
                ScreeningClearedV1(customer_id=alert.customer_id, alert_id=alert.id, reason_code=alert.reason_code),
            )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action=f"screening_decision:{outcome}",
        customer_id=alert.customer_id,
        fields=["screening_alert"],
        reason=actor.reason or reason,
    )
    await session.flush()
    return alert


async def _remember_false_positive(session: AsyncSession, alert: ScreeningAlert) -> None:
    dismissal = await session.get(ScreeningDismissal, (alert.customer_id, alert.list_name, alert.entity_id))
    if dismissal is None:
        dismissal = ScreeningDismissal(
            customer_id=alert.customer_id, list_name=alert.list_name, entity_id=alert.entity_id
        )
        session.add(dismissal)
    dismissal.entry_fingerprint = alert.entry_fingerprint
    dismissal.customer_fingerprint = alert.customer_fingerprint
    dismissal.alert_id = alert.id
    dismissal.at = now()


async def redact(session: AsyncSession, customer_id: str) -> None:
    """On erasure: the reasons name the customer's name parts; keep the alerts (AML records)
    without them."""
    for alert in await session.scalars(sa.select(ScreeningAlert).where(ScreeningAlert.customer_id == customer_id)):
        alert.reasons = json.dumps({"reasons": ["erased"], "topics": json.loads(alert.reasons)["topics"]})
