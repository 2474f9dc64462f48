from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from events.contracts import Channel
from services.feedback.cases.schemas import ProductCode
from services.feedback.common import Page
from services.kit.params import IdField

Survey = Literal["csat", "nps", "ces"]

# The score range of each survey: CSAT 1 (very unsatisfied) to 5, NPS 0 (would not recommend) to
# 10, CES 1 (very easy) to 7 (very hard).
SCORE_RANGES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
# Answers that open a follow-up case: NPS 0-6, CSAT 1-2, CES 6-7.
DETRACTOR_RANGES: dict[str, tuple[int, int]] = {"csat": (1, 2), "nps": (0, 6), "ces": (6, 7)}

Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(lambda s: s or None)]
# secrets.token_urlsafe(32): 43 URL-safe characters.
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]


def score_error(survey: str, score: int) -> PydanticCustomError | None:
    low, high = SCORE_RANGES[survey]
    if low <= score <= high:
        return None
    return PydanticCustomError(
        "score_range",
        "score must be from {low} to {high} for a {survey} survey",
        {"low": low, "high": high, "survey": survey},
    )


def is_detractor(survey: str, score: int) -> bool:
    low, high = DETRACTOR_RANGES[survey]
    return low <= score <= high


class AnswerCreate(BaseModel):
    """An answer recorded by staff (or a front end) for a customer, without an invitation."""

    model_config = ConfigDict(extra="forbid")

    customer_id: IdField
    survey: Survey
    score: int = Field(strict=True, description="CSAT: 1 to 5; NPS: 0 to 10; CES: 1 to 7.")
    channel: Channel
    comment: Comment | None = Field(
        default=None, description="Free text; stored encrypted, never logged nor published."
    )
    case_id: IdField | None = Field(default=None, description="The case the answer rates.")
    interaction_id: IdField | None = Field(default=None, description="The interaction the answer rates.")
    product: ProductCode | None = None

    @field_validator("score")
    @classmethod
    def _score_in_survey_range(cls, score: int, info: ValidationInfo) -> int:
        survey = info.data.get("survey")  # absent when the survey itself was invalid
        if survey in SCORE_RANGES and (error := score_error(survey, score)):
            raise error
        return score


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: IdField
    survey: Survey
    channel: Channel
    case_id: IdField | None = Field(default=None, description="The case the answer will rate.")
    interaction_id: IdField | None = Field(default=None, description="The interaction the answer will rate.")
    product: ProductCode | None = None


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    survey: Survey
    channel: Channel
    case_id: str | None
    interaction_id: str | None
    expires_at: datetime
    token: str = Field(description="Send it to the customer; it answers the survey once. Shown only now.")

    @classmethod
    def fields_of(cls, invitation) -> dict:
        return {name: getattr(invitation, name) for name in cls.model_fields if name != "token"}


class TokenAnswer(BaseModel):
    """An invited customer's answer: the invitation token is the credential."""

    model_config = ConfigDict(extra="forbid")

    token: Token
    score: int = Field(strict=True, description="In the invitation's survey range.")
    comment: Comment | None = Field(
        default=None, description="Free text; stored encrypted, never logged nor published."
    )


class AnswerReceipt(BaseModel):
    """What an invited answer gets back: nothing about the customer."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    survey: Survey
    score: int
    received_at: datetime


class AnswerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    survey: Survey
    score: int
    channel: Channel
    received_at: datetime
    case_id: str | None
    interaction_id: str | None
    product: str | None
    detractor: bool
    follow_up_case_id: str | None = Field(default=None, description="The case a detractor's answer opened.")


class AnswerRead(AnswerOut):
    """As listed for staff: with the comment (masked for roles that may not read it)."""

    comment: str | None


class AnswerPage(Page):
    items: list[AnswerRead]
