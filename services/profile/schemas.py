from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from events.contracts.terms import RiskLevel, Stage, Tier
from services.kit.params import IsoDate
from services.profile.tiers import SERVICE_PLANS


def _not_in_future(value: date) -> date:
    if value > date.today():
        raise ValueError("birth date cannot be in the future")
    if value.year < 1900:
        raise ValueError("birth date must be 1900 or later")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
NationalId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z]{6,32}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{6,20}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
BirthDate = Annotated[IsoDate, AfterValidator(_not_in_future)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Assets = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]


class DeclaredFieldsOnly(BaseModel):
    """Accepts only the fields it names, each of which is in the data catalogue (R2.1; a test
    holds the two together). Anything else is refused as undeclared, never silently stored."""

    model_config = ConfigDict(extra="forbid")


RISK_LEVEL_REFUSED = (
    "risk_level is not accepted from anyone: it comes from a risk assessment "
    "(POST /api/v1/customers/{id}/risk-assessments) and is shown here once one is completed"
)


class RiskLevelFromAssessment(BaseModel):
    """Refuses `risk_level` by name, with the way to set it, instead of a generic 'undeclared'."""

    risk_level: SkipJsonSchema[None] = Field(None, exclude=True)

    @field_validator("risk_level", mode="before")
    @classmethod
    def _refuse(cls, value):
        raise ValueError(RISK_LEVEL_REFUSED)


ExternalRef = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z._:-]{1,64}$")]
ManagerId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Holdings = Annotated[int, Field(ge=0, le=10_000)]
Country = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Occupation = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z_]{2,40}$")]
OnboardingChannel = Literal["branch", "online", "agent", "partner"]
CashIntensity = Literal["low", "medium", "high"]


class CustomerCreate(RiskLevelFromAssessment, DeclaredFieldsOnly):
    name: Name
    national_id: NationalId = Field(description="National identity number (letters and digits).")
    phone: Phone
    email: Email
    birth_date: BirthDate
    address: Address
    assets_under_management: Assets = Decimal("0")
    product_holdings: Holdings = Field(0, description="Number of products the customer holds.")
    external_ref: ExternalRef | None = Field(
        None, description="The bank's own reference; unique; makes imports idempotent."
    )
    lifecycle_stage: Stage = Stage.PROSPECT
    nationality: Country | None = Field(None, description="ISO 3166 alpha-2.")
    residence_country: Country | None = Field(None, description="ISO 3166 alpha-2.")
    occupation: Occupation | None = Field(None, description="Occupation code (AML risk factors name some).")
    onboarding_channel: OnboardingChannel | None = None
    cash_intensity: CashIntensity | None = None
    relationship_manager_id: ManagerId | None = Field(
        None, description="Assigned manager; when a relationship manager creates the customer, that manager."
    )


class CustomerUpdate(RiskLevelFromAssessment, DeclaredFieldsOnly):
    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    birth_date: BirthDate | None = None
    address: Address | None = None
    assets_under_management: Assets | None = None
    product_holdings: Holdings | None = None
    nationality: Country | None = None
    residence_country: Country | None = None
    occupation: Occupation | None = None
    onboarding_channel: OnboardingChannel | None = None
    cash_intensity: CashIntensity | None = None

    @model_validator(mode="after")
    def _something_to_change(self):
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    national_id: str
    phone: str
    email: str
    birth_date: date
    address: str
    assets_under_management: Decimal
    product_holdings: int
    risk_level: RiskLevel | None = Field(description="From the latest risk assessment; null until one is completed.")
    risk_level_valid_until: datetime | None = Field(description="When that assessment lapses.")
    tier: Tier
    lifecycle_stage: Stage
    relationship_manager_id: str | None
    external_ref: str | None
    nationality: str | None = None
    residence_country: str | None = None
    occupation: str | None = None
    onboarding_channel: str | None = None
    cash_intensity: str | None = None
    service_plan: dict = Field(description="What the customer's tier entitles them to (R4.1).")
    version: int
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _plan(cls, data):
        if not isinstance(data, dict):
            data = {name: getattr(data, name) for name in cls.model_fields if name != "service_plan"}
        return {**data, "service_plan": SERVICE_PLANS[Tier(data["tier"])]}


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class CustomerLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_id: NationalId | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.national_id is None) == (self.phone is None):
            raise ValueError("send exactly one of national_id or phone")
        return self


class StageChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Stage
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class StageChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    actor: str
    reason: str | None


class ManagerAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relationship_manager_id: ManagerId | None


class LegalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z._:/-]{1,64}$")] = Field(
        description="The case reference (a code; it travels in events, so never names or free text)."
    )


class LegalHoldOut(BaseModel):
    customer_id: str
    reference: str
    placed_at: datetime


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
