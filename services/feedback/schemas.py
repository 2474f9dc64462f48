from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from events.contracts import Channel
from services.kit.params import IdField

Survey = Literal["csat", "nps"]
ComplaintCategory = Literal["service", "fees", "product", "fraud", "privacy", "other"]
ComplaintStatus = Literal["open"]

# The score range of each survey: CSAT 1 (very unsatisfied) to 5, NPS 0 (would not recommend) to 10.
SCORE_RANGES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}

Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(lambda s: s or None)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: IdField
    survey: Survey
    score: int = Field(strict=True, description="CSAT: 1 to 5; NPS: 0 to 10.")
    channel: Channel
    comment: Comment | None = Field(default=None, description="Free text; stored, never logged nor published.")

    @field_validator("score")
    @classmethod
    def _score_in_survey_range(cls, score: int, info: ValidationInfo) -> int:
        survey = info.data.get("survey")  # absent when the survey itself was invalid
        if survey in SCORE_RANGES:
            low, high = SCORE_RANGES[survey]
            if not low <= score <= high:
                raise PydanticCustomError(
                    "score_range", "score must be from {low} to {high} for a {survey} survey",
                    {"low": low, "high": high, "survey": survey},
                )
        return score


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: IdField
    category: ComplaintCategory
    channel: Channel
    description: Description = Field(description="Free text; stored, never logged nor published.")


# Responses leave the free text out: the caller sent it, and echoing it only spreads it further.
class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    survey: Survey
    score: int
    channel: Channel
    received_at: datetime


class ComplaintOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    category: ComplaintCategory
    channel: Channel
    status: ComplaintStatus
    opened_at: datetime
