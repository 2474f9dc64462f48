from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.recommendation.products.schemas import Amount

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    insist: Literal[True] = Field(description="The customer insists on a product above their level.")
    acknowledged_warning_sha256: Sha256 | None = Field(
        None, description="SHA-256 of the warning text the customer acknowledged (from the blocked check)."
    )


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_code: Annotated[str, StringConstraints(max_length=32)]
    amount: Amount
    override: OverrideIn | None = None


class FindingOut(BaseModel):
    rule_id: str
    rule: str = Field(description="The rule, as a sentence.")
    effect: Literal["block", "warn"]
    reason: str = Field(description="Why it fired here.")
    overridden: bool


class WarningOut(BaseModel):
    text: str
    sha256: str


class FollowUpTask(BaseModel):
    kind: Literal["elderly_or_vulnerable_follow_up"]
    due_on: date


class CheckOut(BaseModel):
    id: str
    customer_id: str
    product_code: str
    product_version: int
    amount: Decimal
    result: Literal["pass", "warn", "block"]
    findings: list[FindingOut]
    overridable: bool = Field(description="Blocked only by the customer's own level: they may insist (see `warning`).")
    warning: WarningOut | None = Field(None, description="The written warning to acknowledge to insist.")
    overridden: bool
    cooling_off_until: datetime | None
    follow_up_tasks: list[FollowUpTask]
    ruleset_version: str
    questionnaire_version: str | None
    assessment_id: str | None
    decided_at: datetime


class ReplayOut(BaseModel):
    id: str
    same: bool = Field(description="The stored inputs give the stored result again.")
    stored: dict
    replayed: dict
