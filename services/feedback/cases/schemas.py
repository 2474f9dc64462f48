from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.contracts import CaseKind, Channel
from services.feedback.common import Page
from services.kit.params import IdField

CaseState = Literal["opened", "acknowledged", "in_progress", "waiting_on_customer", "resolved", "followed_up", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Complexity = Literal["simple", "complex"]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
ProductCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
StaffId = Annotated[str, StringConstraints(pattern=r"^[!-~]{1,128}$")]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: IdField
    kind: Literal["request", "complaint"] = "request"
    category: Code = Field(description="One of the configured case categories (e.g. service, fees, card).")
    channel: Channel
    priority: Priority = "normal"
    complexity: Complexity = Field("simple", description="Complex cases get the longer resolution target.")
    product: ProductCode | None = Field(default=None, description="Code of the product the case concerns.")
    description: Description = Field(description="Free text; stored encrypted, never logged nor published.")


class ComplaintCreate(BaseModel):
    """The complaint form of earlier releases: opens a case of kind `complaint`."""

    model_config = ConfigDict(extra="forbid")

    customer_id: IdField
    category: Code
    channel: Channel
    description: Description = Field(description="Free text; stored encrypted, never logged nor published.")
    priority: Priority = "normal"
    complexity: Complexity = "simple"
    product: ProductCode | None = None


class ComplaintOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    category: str
    channel: Channel
    status: CaseState = Field(validation_alias="state")
    opened_at: datetime


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: NoteText | None = Field(default=None, description="Optional note kept with the case (encrypted).")


class FollowUp(Transition):
    note: NoteText = Field(description="What the customer said when called back (kept with the case, encrypted).")


class Resolution(Transition):
    root_cause: Code | None = Field(default=None, description="One of the category's configured root causes.")


class Closing(Transition):
    root_cause: Code | None = Field(
        default=None, description="Required unless given when resolving; one of the category's root causes."
    )


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: StaffId | None = Field(default=None, description="Id of the agent who owns the case.")
    team: StaffId | None = Field(default=None, description="Team code of the queue the case sits in.")


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: NoteText


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    author: str
    note_text: str | None = Field(validation_alias="body", description="Masked for roles that may not read it.")
    created_at: datetime


class ClockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["first_answer", "resolution"]
    state: Literal["running", "paused", "met", "stopped"]
    warning_at: datetime
    breach_at: datetime
    met_at: datetime | None
    breached: bool


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    kind: CaseKind
    category: str
    channel: Channel
    priority: Priority
    complexity: Complexity
    product: str | None
    state: CaseState
    case_description: str | None = Field(
        validation_alias="description", description="Free text; masked for roles that may not read it."
    )
    assignee: str | None
    team: str | None
    root_cause: str | None
    reopened_from: str | None
    answer_id: str | None = Field(description="For follow-ups: the survey answer followed up.")
    opened_at: datetime
    first_answer_at: datetime | None
    resolved_at: datetime | None
    followed_up_at: datetime | None
    closed_at: datetime | None
    escalated_at: datetime | None
    sla_breached: bool
    clocks: list[ClockOut] = []
    actions: list[str] = Field(default=[], description="Transitions the case's state allows now.")


class CasePage(Page):
    items: list[CaseOut]
