"""Survey invitations: issued by staff (POST /api/v1/survey-invitations) or by the service itself
when a case is resolved (R3.1: the customer evaluates the service). An invitation is answered
once, without a login: its token is the credential, 256 random bits, stored only as its SHA-256.

A case's invitation is issued in the transaction that resolves it, and published through the
outbox (`survey.invited`, on its own topic) for the bank's messaging system to deliver: the
invitation exists exactly when the resolution does, and is announced once."""

import hashlib
import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import Survey, SurveyInvitedV1
from services.feedback.cases.models import Case
from services.feedback.db import outbox
from services.feedback.settings import FeedbackSettings
from services.feedback.surveys.models import SurveyInvitation
from services.kit.clock import now

# Who issued the invitations the service sends by itself (`created_by`).
ISSUED_ON_RESOLUTION = "case-resolution"
# A detractor's follow-up case is the bank calling back about an answer just given: asking
# again once it is resolved would survey the same experience twice.
NOT_SURVEYED_KINDS = frozenset({"follow_up"})


def token_hash(token: str) -> str:
    # The token carries 256 random bits: a plain SHA-256 cannot be reversed by guessing.
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    session: AsyncSession,
    settings: FeedbackSettings,
    *,
    customer_id: str,
    survey: Survey,
    channel: str,
    created_by: str,
    case_id: str | None = None,
    interaction_id: str | None = None,
    product: str | None = None,
) -> tuple[SurveyInvitation, str]:
    """A new invitation, flushed, and its token (the only time the token exists in clear)."""
    token = secrets.token_urlsafe(32)
    moment = now()
    invitation = SurveyInvitation(
        id=str(uuid.uuid4()),
        token_hash=token_hash(token),
        customer_id=customer_id,
        survey=survey,
        channel=channel,
        case_id=case_id,
        interaction_id=interaction_id,
        product=product,
        created_by=created_by,
        created_at=moment,
        expires_at=moment + timedelta(days=settings.invitation_valid_days),
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
    invitation, token = await issue(
        session,
        settings,
        customer_id=case.customer_id,
        survey=settings.resolution_survey,
        channel=case.channel,
        created_by=ISSUED_ON_RESOLUTION,
        case_id=case.id,
        product=case.product,
    )
    await outbox.emit(
        session,
        "survey.invited",
        SurveyInvitedV1(
            invitation_id=invitation.id,
            customer_id=invitation.customer_id,
            survey=settings.resolution_survey,
            channel=invitation.channel,
            case_id=case.id,
            expires_at=invitation.expires_at,
            token=token,
        ),
    )
