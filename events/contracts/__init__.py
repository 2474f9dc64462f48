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

RiskLevel = Literal["C1", "C2", "C3", "C4", "C5"]
# Where a customer interacted with the bank (surveys, complaints, consents).
Channel = Literal["mobile", "web", "branch", "call_center"]


class Payload(BaseModel):
    # Unknown fields are ignored so producers can add optional fields without breaking consumers.
    model_config = ConfigDict(extra="ignore", frozen=True)


class CustomerCreatedV1(Payload):
    customer_id: str
    risk_level: RiskLevel
    assets_under_management: Decimal = Field(description="In the bank's reporting currency.")


class CustomerUpdatedV1(Payload):
    """Carries the current state of the fields consumers use, plus which fields changed."""

    customer_id: str
    risk_level: RiskLevel
    assets_under_management: Decimal
    changed_fields: list[str] = Field(description="Names of the changed fields, values omitted.")


Tier = Literal["high_net_worth", "affluent", "mass", "potential"]
Stage = Literal["prospect", "onboarding", "active", "dormant", "churned"]


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


class FeedbackReceivedV1(Payload):
    feedback_id: str
    customer_id: str
    survey: Literal["csat", "nps"]
    score: int = Field(ge=0, le=10)
    channel: str


class ComplaintOpenedV1(Payload):
    complaint_id: str
    customer_id: str
    category: str
    channel: str


class ChurnWarningV1(Payload):
    customer_id: str
    score: int = Field(ge=0, le=100)
    level: Literal["low", "medium", "high"]
    previous_level: Literal["low", "medium", "high"]
    reasons: list[str] = Field(description="Codes of the factors that raised the score.")


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
    EventType("customer.lifecycle_changed", 1, topics.CUSTOMER, CustomerLifecycleChangedV1,
              "A customer moved to another lifecycle stage."),
    EventType("customer.erased", 1, topics.CUSTOMER, CustomerErasedV1,
              "A customer was erased; erase or anonymise your copies of their personal data."),
    EventType("customer.document_expiring", 1, topics.CUSTOMER, CustomerDocumentExpiringV1,
              "An identity document is expiring or expired; KYC needs a refresh."),
    EventType("consent.granted", 1, topics.CONSENT, ConsentGrantedV1, "A data-sharing consent became active."),
    EventType("consent.requested", 1, topics.CONSENT, ConsentRequestedV1,
              "The bank requested a data-sharing consent; awaiting a compliance officer's approval."),
    EventType("consent.approved", 1, topics.CONSENT, ConsentDecidedV1,
              "A requested consent was approved by a compliance officer other than the requester; it is active."),
    EventType("consent.rejected", 1, topics.CONSENT, ConsentDecidedV1, "A requested consent was rejected."),
    EventType("consent.expired", 1, topics.CONSENT, ConsentExpiredV1, "A consent reached its expiry; sharing stops."),
    EventType("consent.revoked", 1, topics.CONSENT, ConsentRevokedV1, "A consent was revoked; sharing stops at once."),
    EventType("feedback.received", 1, topics.FEEDBACK, FeedbackReceivedV1, "A survey answer (CSAT or NPS) arrived."),
    EventType("complaint.opened", 1, topics.COMPLAINT, ComplaintOpenedV1, "A customer complaint was opened."),
    EventType("churn.warning", 1, topics.CHURN, ChurnWarningV1, "A customer crossed into high churn risk."),
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
    name: str, payload: Payload, *, source: str, version: int = 1, trace_id: str | None = None,
    traceparent: str | None = None,
) -> Envelope:
    """Build an envelope for `payload`, checking that the payload matches the contract."""
    contract = event_type(name, version)
    if not isinstance(payload, contract.payload):
        raise TypeError(f"{name} v{version} takes {contract.payload.__name__}, not {type(payload).__name__}")
    body: dict[str, Any] = payload.model_dump(mode="json")
    return Envelope(
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
