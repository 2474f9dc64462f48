"""Versioned event contracts: every event type, its topic, its payload schema, its meaning.

Payloads carry ids, codes and categories; never names, national ids, phone numbers, e-mail
addresses or free text, so a consumer or a topic dump cannot leak personal data.

Changing a payload incompatibly means adding version N+1 beside N and emitting both until every
consumer has moved; a compatible change (a new optional field) keeps the version.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.contracts import topics
from events.contracts.envelope import Envelope
from events.contracts.terms import ChurnBand, ProductRiskLevel, RiskLevel, Stage, Tier

# Where a customer interacted with the bank (surveys, complaints, consents).
Channel = Literal["mobile", "web", "branch", "call_center"]


class Payload(BaseModel):
    # Unknown fields are ignored so producers can add optional fields without breaking consumers.
    model_config = ConfigDict(extra="ignore", frozen=True)


# Age bands, not birth dates: enough for suitability (elderly customers) without the date itself.
AgeBand = Literal["under_18", "18_39", "40_64", "65_79", "80_plus"]
RISK_LEVEL_SOURCE = (
    "The customer's risk level as last set by a `risk_assessment.completed` event; null until assessed "
    "(profile no longer accepts it from people)."
)


class CustomerCreatedV1(Payload):
    customer_id: str
    risk_level: RiskLevel | None = Field(None, description=RISK_LEVEL_SOURCE)
    assets_under_management: Decimal = Field(description="In the bank's reporting currency.")
    # Optional (added compatibly): services that keep managers to their own customers, or break
    # figures down by tier, follow these without asking the profile service.
    relationship_manager_id: str | None = Field(default=None, description="Id of the assigned relationship manager.")
    tier: Tier | None = Field(default=None, description="The customer's tier at creation.")
    age_band: AgeBand | None = Field(None, description="Age band from the birth date, when known.")


class CustomerUpdatedV1(Payload):
    """Carries the current state of the fields consumers use, plus which fields changed."""

    customer_id: str
    risk_level: RiskLevel | None = Field(None, description=RISK_LEVEL_SOURCE)
    assets_under_management: Decimal
    changed_fields: list[str] = Field(description="Names of the changed fields, values omitted.")
    relationship_manager_id: str | None = Field(
        default=None, description="Id of the assigned relationship manager (optional; current state)."
    )
    age_band: AgeBand | None = Field(None, description="Age band from the birth date, when known.")


class CustomerTierChangedV1(Payload):
    customer_id: str
    previous_tier: Tier | None
    tier: Tier


class CustomerLifecycleChangedV1(Payload):
    customer_id: str
    previous_stage: Stage | None
    stage: Stage


class CustomerErasedV1(Payload):
    """The customer's identifiers were destroyed. Every service erases or anonymises its own
    copies of their personal data, keeping only aggregates and legally required records."""

    customer_id: str
    erased_at: datetime
    replayed: bool = Field(
        False,
        description="True when profile announces an erasure again so that a consumer "
        "that was away longer than the topic retention still applies it (reconciliation).",
    )


class CustomerLegalHoldPlacedV1(Payload):
    """The customer's data must not be erased (retention suspended) until the hold is released."""

    customer_id: str
    reference: str = Field(description="The case reference code.")


class CustomerLegalHoldReleasedV1(Payload):
    customer_id: str


class CustomerManagerChangedV1(Payload):
    """The customer's relationship manager (or dedicated advisor) changed; services scoping
    access by manager follow it."""

    customer_id: str
    previous_manager_id: str | None
    manager_id: str | None


class CustomerDocumentExpiringV1(Payload):
    """An identity document needs renewal for KYC: expiring soon or already expired."""

    customer_id: str
    document_id: str
    document_type: str
    expires_on: date
    status: Literal["expiring", "expired"]


class ConsentGrantedV1(Payload):
    consent_id: str
    customer_id: str
    recipient: str
    purpose: str
    data_categories: list[str]
    expires_at: datetime | None


class ConsentRequestedV1(Payload):
    """The bank asked to share a customer's data; a compliance officer must approve it."""

    consent_id: str
    customer_id: str
    recipient: str
    purpose: str
    data_categories: list[str]
    requested_by: str


class ConsentDecidedV1(Payload):
    """A requested consent was approved (and is active from now) or rejected."""

    consent_id: str
    customer_id: str
    recipient: str
    purpose: str
    data_categories: list[str]
    decided_by: str
    expires_at: datetime | None = None


class ConsentExpiredV1(Payload):
    consent_id: str
    customer_id: str
    recipient: str
    purpose: str
    expired_at: datetime


class ConsentRevokedV1(Payload):
    consent_id: str
    customer_id: str
    recipient: str
    purpose: str
    revoked_at: datetime


Survey = Literal["csat", "nps", "ces"]


class FeedbackReceivedV1(Payload):
    """A survey answer. `ces` (customer effort, 1 easy to 7 hard) was added compatibly: consumers
    that only know CSAT and NPS may ignore it."""

    feedback_id: str
    customer_id: str
    survey: Survey
    score: int = Field(ge=0, le=10)
    channel: str
    case_id: str | None = Field(default=None, description="The service case the answer rates, if any.")


CaseKind = Literal["request", "complaint", "follow_up"]
SlaClock = Literal["first_answer", "resolution"]


class CaseOpenedV1(Payload):
    """A service case was opened (a service request, a complaint, or the follow-up of a
    detractor's answer); `reopened_from` names the case it takes up again."""

    case_id: str
    customer_id: str
    kind: CaseKind
    category: str
    channel: str
    priority: str
    complexity: str
    reopened_from: str | None = None


class CaseSlaV1(Payload):
    """An SLA clock of a case nears its breach (warning) or has breached (escalation)."""

    case_id: str
    customer_id: str
    clock: SlaClock
    breach_at: datetime
    escalated_to: str | None = Field(default=None, description="Team code the case went to (escalations).")


class CaseResolvedV1(Payload):
    case_id: str
    customer_id: str
    kind: CaseKind
    category: str
    root_cause: str | None
    sla_breached: bool


class SurveyInvitedV1(Payload):
    """A customer is invited to answer a survey once (sent when a service case is resolved),
    for the bank's messaging system to deliver on `channel`. `token` is the answer link's only
    credential (POST /api/v1/survey-answers): single use, void after `expires_at`. The invitation
    keeps only its hash; in clear it is only in this event (the feedback outbox row, purged
    after the messaging retention, and this topic, for the messaging system alone)."""

    invitation_id: str
    customer_id: str
    survey: Survey
    channel: str
    case_id: str | None = Field(default=None, description="The service case the survey rates, if any.")
    expires_at: datetime
    token: str = Field(description="The invitation's credential, to put in the answer link; never log it.")


class CaseClosedV1(Payload):
    case_id: str
    customer_id: str
    kind: CaseKind
    category: str
    root_cause: str
    sla_breached: bool


class ComplaintOpenedV1(Payload):
    complaint_id: str
    customer_id: str
    category: str
    channel: str


class ChurnWarningV1(Payload):
    customer_id: str
    score: int = Field(ge=0, le=100, description="Churn probability in percent.")
    level: ChurnBand
    previous_level: ChurnBand
    reasons: list[str] = Field(description="Codes of the features that raised the score most, largest first.")
    model: str | None = Field(default=None, description="The model that scored: `rules-v1` or `model-<version>`.")


class ChurnSurveyRequestedV1(Payload):
    """The medium band's retention playbook asks the customer how satisfied they are (R4.3): the
    feedback service invites them (`survey.invited`). Not sent for the hold-out group."""

    customer_id: str
    intervention_id: str = Field(description="The retention episode (churn's intervention) that asks.")
    survey: Survey
    channel: Channel = Field(description="Where the customer is to answer.")


Direction = Literal["credit", "debit"]


class TransactionPostedV1(Payload):
    """Core banking posted a transaction on one of the customer's accounts."""

    customer_id: str
    transaction_id: str
    account_id: str
    amount: Decimal = Field(gt=0, description="Absolute amount in the bank's reporting currency.")
    direction: Direction
    posted_at: datetime
    category: str = Field(default="other", description="Transaction category code, e.g. card, transfer, fee.")


class BalanceSnapshotV1(Payload):
    """End-of-day (or intraday) balance of one of the customer's accounts."""

    customer_id: str
    account_id: str
    balance: Decimal = Field(description="Balance in the bank's reporting currency (negative when overdrawn).")
    as_of: datetime


class RiskAssessmentCompletedV1(Payload):
    """A customer's risk assessment was scored; the level holds until `valid_until`."""

    customer_id: str
    assessment_id: str
    risk_level: RiskLevel
    lowest_category: bool = Field(description="Not fully legally competent or unwilling to bear any loss: R1 only.")
    questionnaire_version: str
    recorded_by_role: str = Field(description="`customer` when answered by the customer, else the staff role.")
    completed_at: datetime
    valid_until: datetime


class ReassessmentRequestedV1(Payload):
    """Something that matters for suitability changed; the assessment lapses at `due_on`."""

    customer_id: str
    assessment_id: str
    reason: Literal["age_band_changed", "assets_changed", "horizon_or_goals_changed"]
    due_on: date


class SuitabilityMismatchDetectedV1(Payload):
    """A holding or an open recommendation no longer fits the customer, e.g. after a re-rating."""

    customer_id: str
    product_code: str
    holding_id: str | None = None
    recommendation_id: str | None = None
    product_risk_level: ProductRiskLevel
    customer_risk_level: RiskLevel | None
    rule_ids: list[str] = Field(description="Ids of the hard rules the pair now breaks.")
    cause: Literal["product_rerated", "assessment_changed"]


class RecommendationMadeV1(Payload):
    recommendation_id: str
    customer_id: str
    mode: Literal["proactive", "advice"] = Field(description="`advice` when a relationship manager asked in service.")
    product_codes: list[str] = Field(description="The picks, best first.")
    ruleset_version: str
    questionnaire_version: str | None


class CoreBankingProductOpenedV1(Payload):
    """Core banking opened a product for a customer (account, deposit, fund position, policy, loan)."""

    customer_id: str
    holding_id: str = Field(description="Core banking's own id of the contract or account; unique per holding.")
    product_code: str = Field(description="The product code as in the CRM catalogue (GET /api/v1/products).")
    amount: Decimal = Field(ge=0, description="Invested or contracted amount, reporting currency.")
    opened_at: datetime


class CoreBankingProductClosedV1(Payload):
    customer_id: str
    holding_id: str
    product_code: str
    closed_at: datetime


# duplicate_customer: the national ID of a customer already on the bank's book (list "customers").
ScreeningReason = Literal[
    "sanctions_screening_hit", "pep_screening_hit", "watchlist_screening_hit", "duplicate_customer"
]
AmlRating = Literal["low", "medium", "high"]


class ScreeningHitV1(Payload):
    """A customer came close to a list entry, or has the national ID of a customer already on the
    book (list "customers"); the alert waits for a two-person decision."""

    customer_id: str
    alert_id: str
    list_name: str
    list_version: int
    reason_code: ScreeningReason
    decision: Literal["match", "review"] = Field(description="How close: match (strong) or review.")


class ScreeningClearedV1(Payload):
    """Two compliance officers decided that an alert was a false positive."""

    customer_id: str
    alert_id: str
    reason_code: ScreeningReason


class AmlRiskChangedV1(Payload):
    """A customer's money-laundering risk rating changed (or was first set)."""

    customer_id: str
    previous_rating: AmlRating | None
    rating: AmlRating
    factors: list[str] = Field(description="Codes of the factors that set the rating.")
    enhanced_due_diligence: bool
    review_due: date


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    topic: str
    payload: type[Payload]
    description: str


_TYPES = [
    EventType("customer.created", 1, topics.CUSTOMER, CustomerCreatedV1, "A customer record was created."),
    EventType("customer.updated", 1, topics.CUSTOMER, CustomerUpdatedV1, "A customer record changed."),
    EventType("customer.tier_changed", 1, topics.CUSTOMER, CustomerTierChangedV1, "A customer moved to another tier."),
    EventType(
        "customer.lifecycle_changed",
        1,
        topics.CUSTOMER,
        CustomerLifecycleChangedV1,
        "A customer moved to another lifecycle stage.",
    ),
    EventType(
        "customer.erased",
        1,
        topics.CUSTOMER,
        CustomerErasedV1,
        "A customer was erased; erase or anonymise your copies of their personal data.",
    ),
    EventType(
        "customer.legal_hold_placed",
        1,
        topics.CUSTOMER,
        CustomerLegalHoldPlacedV1,
        "A legal hold was placed: suspend retention and erasure of the customer's data.",
    ),
    EventType(
        "customer.legal_hold_released",
        1,
        topics.CUSTOMER,
        CustomerLegalHoldReleasedV1,
        "A legal hold was released: retention applies again.",
    ),
    EventType(
        "customer.manager_changed",
        1,
        topics.CUSTOMER,
        CustomerManagerChangedV1,
        "The customer's relationship manager changed.",
    ),
    EventType(
        "customer.document_expiring",
        1,
        topics.CUSTOMER,
        CustomerDocumentExpiringV1,
        "An identity document is expiring or expired; KYC needs a refresh.",
    ),
    EventType("consent.granted", 1, topics.CONSENT, ConsentGrantedV1, "A data-sharing consent became active."),
    EventType(
        "consent.requested",
        1,
        topics.CONSENT,
        ConsentRequestedV1,
        "The bank requested a data-sharing consent; awaiting a compliance officer's approval.",
    ),
    EventType(
        "consent.approved",
        1,
        topics.CONSENT,
        ConsentDecidedV1,
        "A requested consent was approved by a compliance officer other than the requester; it is active.",
    ),
    EventType("consent.rejected", 1, topics.CONSENT, ConsentDecidedV1, "A requested consent was rejected."),
    EventType("consent.expired", 1, topics.CONSENT, ConsentExpiredV1, "A consent reached its expiry; sharing stops."),
    EventType("consent.revoked", 1, topics.CONSENT, ConsentRevokedV1, "A consent was revoked; sharing stops at once."),
    EventType(
        "feedback.received", 1, topics.FEEDBACK, FeedbackReceivedV1, "A survey answer (CSAT, NPS or CES) arrived."
    ),
    EventType(
        "survey.invited",
        1,
        topics.SURVEY_INVITATIONS,
        SurveyInvitedV1,
        "A customer is invited to a survey (a resolved case's CSAT); deliver the link with its token.",
    ),
    EventType(
        "complaint.opened",
        1,
        topics.COMPLAINT,
        ComplaintOpenedV1,
        "A customer complaint was opened (also published as case.opened of kind complaint).",
    ),
    EventType("case.opened", 1, topics.CASE, CaseOpenedV1, "A service case was opened or reopened."),
    EventType("case.sla_warning", 1, topics.CASE, CaseSlaV1, "A case's SLA clock is about to breach."),
    EventType(
        "case.escalated",
        1,
        topics.CASE,
        CaseSlaV1,
        "A case's SLA clock breached; the case went to a supervisor. Published once per clock.",
    ),
    EventType("case.resolved", 1, topics.CASE, CaseResolvedV1, "A case was resolved."),
    EventType("case.closed", 1, topics.CASE, CaseClosedV1, "A case was closed with a root cause; it is frozen."),
    EventType(
        "churn.warning",
        1,
        topics.CHURN,
        ChurnWarningV1,
        "A customer rose a churn band (low to medium, medium to high, low to high), with the top reasons.",
    ),
    EventType(
        "churn.survey_requested",
        1,
        topics.CHURN,
        ChurnSurveyRequestedV1,
        "A retention playbook asks for a satisfaction survey (medium band, treated group only).",
    ),
    EventType(
        "risk_assessment.completed",
        1,
        topics.RISK_ASSESSMENT,
        RiskAssessmentCompletedV1,
        "A risk assessment was scored into C1-C5; the profile shows this level.",
    ),
    EventType(
        "risk_assessment.reassessment_requested",
        1,
        topics.RISK_ASSESSMENT,
        ReassessmentRequestedV1,
        "Age band, assets, horizon or goals changed: the customer must be re-assessed by the due date.",
    ),
    EventType(
        "suitability.mismatch_detected",
        1,
        topics.SUITABILITY,
        SuitabilityMismatchDetectedV1,
        "A holding or open recommendation breaks a hard suitability rule; the relationship manager follows up.",
    ),
    EventType(
        "recommendation.made",
        1,
        topics.SUITABILITY,
        RecommendationMadeV1,
        "A ranked recommendation list was made (stored with its proof in the recommendation service).",
    ),
    EventType(
        "corebanking.product_opened",
        1,
        topics.COREBANKING_HOLDINGS,
        CoreBankingProductOpenedV1,
        "Published by core banking: a customer now holds a product.",
    ),
    EventType(
        "corebanking.product_closed",
        1,
        topics.COREBANKING_HOLDINGS,
        CoreBankingProductClosedV1,
        "Published by core banking: a customer no longer holds a product.",
    ),
    EventType(
        "screening.hit",
        1,
        topics.SCREENING,
        ScreeningHitV1,
        "A customer came close to a sanctions, PEP or watch-list entry; onboarding waits for compliance.",
    ),
    EventType(
        "screening.cleared",
        1,
        topics.SCREENING,
        ScreeningClearedV1,
        "A screening alert was decided a false positive by two compliance officers.",
    ),
    EventType(
        "aml_risk.changed", 1, topics.SCREENING, AmlRiskChangedV1, "A customer's money-laundering risk rating changed."
    ),
    EventType(
        "transaction.posted",
        1,
        topics.COREBANKING_ACTIVITY,
        TransactionPostedV1,
        "Core banking posted a transaction (published by core-banking systems).",
    ),
    EventType(
        "balance.snapshot",
        1,
        topics.COREBANKING_ACTIVITY,
        BalanceSnapshotV1,
        "An account balance as of a moment (published by core-banking systems).",
    ),
]
REGISTRY: dict[tuple[str, int], EventType] = {(t.name, t.version): t for t in _TYPES}


class UnknownEvent(ValueError):
    pass


def event_type(name: str, version: int) -> EventType:
    try:
        return REGISTRY[(name, version)]
    except KeyError:
        raise UnknownEvent(f"no contract for {name} v{version}") from None


def new_event(
    name: str,
    payload: Payload,
    *,
    source: str,
    version: int = 1,
    trace_id: str | None = None,
    traceparent: str | None = None,
) -> Envelope:
    """Build an envelope for `payload`, checking that the payload matches the contract."""
    contract = event_type(name, version)
    if not isinstance(payload, contract.payload):
        raise TypeError(f"{name} v{version} takes {contract.payload.__name__}, not {type(payload).__name__}")
    body: dict[str, Any] = payload.model_dump(mode="json")
    # Built without validating again: the payload was validated as its contract's type above and
    # every other field is made here (bulk imports build one envelope per customer).
    return Envelope.model_construct(
        id=uuid.uuid4(),
        type=name,
        version=version,
        source=source,
        time=datetime.now(UTC),
        customer_id=body["customer_id"],
        trace_id=trace_id,
        traceparent=traceparent,
        payload=body,
    )


def parse_payload(envelope: Envelope) -> Payload:
    """The typed payload of `envelope`; raises UnknownEvent or pydantic.ValidationError."""
    return event_type(envelope.type, envelope.version).payload.model_validate(envelope.payload)


__all__ = ["REGISTRY", "EventType", "UnknownEvent", "ValidationError", "new_event", "parse_payload"]
