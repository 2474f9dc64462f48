from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

RiskLevel = Literal["C1", "C2", "C3", "C4", "C5"]


def _not_in_future(value: date) -> date:
    if value > date.today():
        raise ValueError("birth date cannot be in the future")
    if value.year < 1900:
        raise ValueError("birth date must be 1900 or later")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
NationalId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z]{6,32}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{6,20}$")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
BirthDate = Annotated[date, AfterValidator(_not_in_future)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Assets = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]


class DeclaredFieldsOnly(BaseModel):
    """Accepts only the fields it names, each of which is in the data catalogue (R2.1; a test
    holds the two together). Anything else is refused as undeclared, never silently stored."""

    model_config = ConfigDict(extra="forbid")


class CustomerCreate(DeclaredFieldsOnly):
    name: Name
    national_id: NationalId = Field(description="National identity number (letters and digits).")
    phone: Phone
    email: Email
    birth_date: BirthDate
    address: Address
    assets_under_management: Assets = Decimal("0")
    risk_level: RiskLevel = Field(description="Risk assessment C1 (most cautious) to C5.")


class CustomerUpdate(DeclaredFieldsOnly):
    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    birth_date: BirthDate | None = None
    address: Address | None = None
    assets_under_management: Assets | None = None
    risk_level: RiskLevel | None = None

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
    risk_level: RiskLevel
    version: int
    created_at: datetime
    updated_at: datetime


class CustomerLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_id: NationalId | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.national_id is None) == (self.phone is None):
            raise ValueError("send exactly one of national_id or phone")
        return self
