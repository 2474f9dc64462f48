from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from events.envelope import now

Purpose = Literal["marketing", "credit_assessment", "risk_control", "third_party_sharing", "analytics"]
DataCategory = Literal["basic", "business", "risk", "behaviour"]
Channel = Literal["mobile", "web", "branch", "call_center"]
ConsentStatus = Literal["active", "revoked", "expired"]


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
Expiry = Annotated[AwareDatetime, AfterValidator(_future_utc)]


class ConsentGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    recipient: Recipient = Field(description="Id of the internal unit or outside party that may use the data.")
    purpose: Purpose
    data_categories: DataCategories
    expires_at: Expiry | None = Field(default=None, description="With a time zone; without it, until revoked.")
    channel: Channel = Field(default="web", description="Where the customer gave the consent.")


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    recipient: str
    purpose: Purpose
    data_categories: list[DataCategory]
    channel: Channel
    status: ConsentStatus = Field(description="`expired`: active, but past `expires_at`.")
    granted_at: datetime
    granted_by: str = Field(description="Who recorded the grant: the customer or the member of staff.")
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
