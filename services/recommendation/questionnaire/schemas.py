from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.contracts.terms import RiskLevel

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]


class AnswerOption(BaseModel):
    id: str
    text: str


class QuestionOut(BaseModel):
    id: str
    text: str
    answers: list[AnswerOption]


class QuestionnaireOut(BaseModel):
    version: str
    validity_days: int
    questions: list[QuestionOut]


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questionnaire_version: Annotated[str, StringConstraints(max_length=16)] = Field(
        description="The version answered (GET /api/v1/risk-questionnaire)."
    )
    answers: dict[Code, Code] = Field(description="Question id -> answer id, one per question.", max_length=100)


class AssessmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    questionnaire_version: str
    points: int
    risk_level: RiskLevel
    lowest_category: bool
    vulnerable: bool
    horizon_years: int | None
    liquidity_days: int | None
    goals: list[str]
    recorded_by_role: str = Field(description="`customer` when answered by the customer, else who recorded it.")
    completed_at: datetime
    valid_until: datetime = Field(description="After this the assessment counts as none.")
    reassessment_due_on: date | None
    reassessment_reason: str | None
    valid: bool
