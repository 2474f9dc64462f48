from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from events.contracts import Channel
from events.contracts.terms import ConsentHistoryStatus, ConsentStatus
from services.kit.clock import now
from services.kit.params import IsoAwareDatetime

Purpose = Literal["marketing", "credit_assessment", "risk_control", "third_party_sharing", "analytics"]
# The profile service's declared data categories.
DataCategory = Literal["basic", "business", "risk", "behaviour"]
RecipientType = Literal["internal", "external"]
LegalBasis = Literal["consent", "contract", "legal_obligation", "legitimate_interest"]


def _each_once(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("list each data category only once")
    return values


def _future_utc(value: datetime) -> datetime:
    if value <= now():
        raise ValueError("the expiry must be in the future")
    return value.astimezone(UTC)


CustomerId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# An id, never a name: it travels in events, which carry no free text.
Recipient = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
]
DataCategories = Annotated[list[DataCategory], Field(min_length=1), AfterValidator(_each_once)]
Expiry = Annotated[IsoAwareDatetime, AfterValidator(_future_utc)]
# Kept exactly as sent (no stripping): its hash must match the text the customer saw.
NoticeText = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ConsentGrant(BaseModel):
    """A consent the customer gives (active at once), or, sent to /consent-requests, one the
    bank asks for (active once a compliance officer approves it)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    recipient: Recipient = Field(description="Id of the internal unit or outside party that may use the data.")
    recipient_type: RecipientType = Field(default="internal", description="`external`: a party outside the bank.")
    purpose: Purpose
    data_categories: DataCategories
    legal_basis: LegalBasis = "consent"
    expires_at: Expiry | None = Field(default=None, description="With a time zone; without it, until revoked.")
    channel: Channel = Field(default="web", description="Where the customer gave the consent.")
    notice_text: NoticeText | None = Field(
        default=None, description="The notice exactly as the customer saw it; stored with its SHA-256, never echoed."
    )
    language: Language = Field(default="zh-CN", description="Language of the notice (BCP 47).")


class ConsentDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    recipient: str
    recipient_type: RecipientType
    purpose: Purpose
    data_categories: list[DataCategory]
    legal_basis: LegalBasis
    channel: Channel
    language: str
    notice_text_sha256: str | None = Field(description="SHA-256 (hex) of the notice text as stored.")
    status: ConsentStatus = Field(
        validation_alias="current_status", description="`expired` as soon as `expires_at` has passed."
    )
    created_at: datetime
    requested_at: datetime | None
    requested_by: str | None = Field(description="The member of staff who asked for the consent (maker).")
    decided_at: datetime | None
    decided_by: str | None = Field(description="The compliance officer who approved or rejected it (checker).")
    granted_at: datetime | None
    granted_by: str | None = Field(description="Who made it active: the customer, staff, or the approver.")
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class ConsentChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: ConsentHistoryStatus | None
    to_status: ConsentHistoryStatus
    at: datetime
    actor: str
    reason: str | None


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    recipient: Recipient
    purpose: Purpose
    data_categories: DataCategories
    as_of: IsoAwareDatetime | None = Field(default=None, description="Answer as of this time; default now.")


DecisionReason = Literal[
    "active_consent",  # the only reason to permit
    "no_consent",
    "purpose_not_consented",
    "categories_not_covered",
    "consent_expired",
    "consent_revoked",
    "consent_pending",
    "consent_rejected",
]


class DecisionOut(BaseModel):
    decision: Literal["permit", "deny"]
    consent_id: str | None = Field(description="The consent that permits, or the closest one that does not.")
    reason: DecisionReason
    as_of: datetime


class PurposeReceipt(BaseModel):
    purpose: str
    purposeCategory: list[str]
    consentType: Literal["EXPRESSED"] = "EXPRESSED"
    piiCategory: list[str]
    primaryPurpose: bool = True
    termination: str
    thirdPartyDisclosure: bool
    thirdPartyName: str | None


class ServiceReceipt(BaseModel):
    service: str
    purposes: list[PurposeReceipt]


class PiiController(BaseModel):
    piiController: str
    contact: str
    onBehalf: bool = False


class ConsentReceipt(BaseModel):
    """A Kantara Consent Receipt v1.1 (the notice record of ISO/IEC 29184), plus the notice
    hash, the legal basis and the consent's current status."""

    version: str = "KI-CR-v1.1.0"
    jurisdiction: str
    consentTimestamp: int = Field(description="When the consent became active (or was recorded), Unix seconds.")
    collectionMethod: str
    consentReceiptID: str
    language: str
    piiPrincipalId: str
    piiControllers: list[PiiController]
    policyUrl: str
    services: list[ServiceReceipt]
    sensitive: bool
    spiCat: list[str]
    notice_text_sha256: str | None
    legal_basis: LegalBasis
    status: ConsentStatus
