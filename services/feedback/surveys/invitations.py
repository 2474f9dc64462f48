"""Survey invitations: issued by staff (POST /api/v1/survey-invitations) or by the service itself,
when a case is resolved (R3.1: the customer evaluates the service) and when a retention
playbook asks (R4.3: churn's `churn.survey_requested`). An invitation is answered once, without
a login: its token is the credential, 256 random bits, stored only as its SHA-256.

The service's own invitations are issued in the transaction of what causes them (the
resolution, the consumed event) and published through the outbox (`survey.invited`, on a topic
of its own) for the bank's messaging system to deliver: an invitation exists exactly when its
cause does, and is announced once."""

import hashlib
import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.consumer import Handler
from events.contracts import ChurnSurveyRequestedV1, SurveyInvitedV1
from events.contracts.envelope import Envelope
from services.feedback.cases.models import Case
from services.feedback.customers.models import known_customers
from services.feedback.db import outbox
from services.feedback.settings import FeedbackSettings
from services.feedback.surveys.models import SurveyInvitation
from services.feedback.surveys.schemas import InvitationCreate
from services.kit.clock import now

# Who issued the invitations the service sends by itself (`created_by`).
ISSUED_ON_RESOLUTION = "case-resolution"
ISSUED_FOR_RETENTION = "retention-playbook"
SENT_BY_THE_SERVICE = (ISSUED_ON_RESOLUTION, ISSUED_FOR_RETENTION)
# A detractor's follow-up case is the bank calling back about an answer just given: asking
# again once it is resolved would survey the same experience twice.
NOT_SURVEYED_KINDS = frozenset({"follow_up"})


def token_hash(token: str) -> str:
    # The token carries 256 random bits: a plain SHA-256 cannot be reversed by guessing.
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    session: AsyncSession, settings: FeedbackSettings, what: InvitationCreate, *, created_by: str
) -> tuple[SurveyInvitation, str]:
    """A new invitation, flushed, and its token (the only time the token exists in clear)."""
    token = secrets.token_urlsafe(32)
    moment = now()
    invitation = SurveyInvitation(
        id=str(uuid.uuid4()),
        token_hash=token_hash(token),
        created_by=created_by,
        created_at=moment,
        expires_at=moment + timedelta(days=settings.invitation_valid_days),
        **what.model_dump(),
    )
    session.add(invitation)
    await session.flush()
    return invitation, token


async def invite_after_resolution(session: AsyncSession, case: Case, settings: FeedbackSettings) -> None:
    """Invites the customer of a just-resolved case to rate it, on the case's channel, unless the
    bank switched this off, the case is a follow-up, or the case already has an invitation (staff
    sent one): one invitation per case."""
    if settings.resolution_survey == "none" or case.kind in NOT_SURVEYED_KINDS:
        return
    invited = await session.scalar(sa.select(SurveyInvitation.id).where(SurveyInvitation.case_id == case.id).limit(1))
    if invited is not None:
        return
    what = InvitationCreate(
        customer_id=case.customer_id,
        survey=settings.resolution_survey,
        channel=case.channel,
        case_id=case.id,
        product=case.product,
    )
    await send(session, settings, what, created_by=ISSUED_ON_RESOLUTION)


async def _sent_lately(session: AsyncSession, customer_id: str, days: int) -> bool:
    lately = sa.select(SurveyInvitation.id).where(
        SurveyInvitation.customer_id == customer_id,
        SurveyInvitation.created_by.in_(SENT_BY_THE_SERVICE),
        SurveyInvitation.created_at > now() - timedelta(days=days),
    )
    return await session.scalar(lately.limit(1)) is not None


def handlers(settings: FeedbackSettings) -> dict[str, Handler]:
    """The events on which the service invites a customer by itself."""

    async def on_survey_requested(session: AsyncSession, envelope: Envelope, payload: ChurnSurveyRequestedV1) -> None:
        # A retention playbook (churn, medium band, treated group) asks how satisfied they are.
        what = InvitationCreate(customer_id=payload.customer_id, survey=payload.survey, channel=payload.channel)
        await send(session, settings, what, created_by=ISSUED_FOR_RETENTION)

    return {"churn.survey_requested": on_survey_requested}


async def send(session: AsyncSession, settings: FeedbackSettings, what: InvitationCreate, *, created_by: str) -> None:
    """An invitation the service sends by itself, published for the bank's messaging system;
    none for a customer this service does not know or who was erased, nor for one it sent an
    invitation within the quiet period (`survey_quiet_days`)."""
    if not await known_customers.exists(session, what.customer_id):
        return
    if settings.survey_quiet_days and await _sent_lately(session, what.customer_id, settings.survey_quiet_days):
        return
    invitation, token = await issue(session, settings, what, created_by=created_by)
    await outbox.emit(
        session,
        "survey.invited",
        SurveyInvitedV1(
            invitation_id=invitation.id,
            customer_id=what.customer_id,
            survey=what.survey,
            channel=what.channel,
            case_id=what.case_id,
            expires_at=invitation.expires_at,
            token=token,
        ),
    )
