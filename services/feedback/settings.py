from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import EncryptionSettings


class SlaTarget(BaseModel):
    """Deadlines of one case category, in hours from opening (time waiting on the customer
    does not count)."""

    model_config = ConfigDict(extra="forbid")

    first_answer_hours: float = Field(24, gt=0)
    # Complex cases must be resolved within this; simple ones within `simple_resolve_hours`.
    resolve_hours: float = Field(48, gt=0)
    simple_resolve_hours: float = Field(24, gt=0)
    # The warning goes out when this share of a clock's time has run.
    warning_fraction: float = Field(0.75, gt=0, lt=1)


class CaseCategory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sla: SlaTarget = SlaTarget()
    # Codes a case of this category may be closed with (R3.3: learn from every case).
    root_causes: list[str] = Field(min_length=1)


_COMMON_CAUSES = ["process_error", "staff_error", "system_fault", "policy", "customer_misunderstanding", "third_party"]
DEFAULT_CATEGORIES = {
    "service": CaseCategory(root_causes=_COMMON_CAUSES),
    "fees": CaseCategory(root_causes=["fee_disclosure", "fee_error", "policy", "customer_misunderstanding"]),
    "product": CaseCategory(
        root_causes=["product_design", "product_fault", "mis_selling", "customer_misunderstanding"]
    ),
    "fraud": CaseCategory(
        sla=SlaTarget(first_answer_hours=4, resolve_hours=48, simple_resolve_hours=24),
        root_causes=["confirmed_fraud", "no_fraud", "third_party", "system_fault"],
    ),
    "privacy": CaseCategory(root_causes=["data_error", "unauthorised_access", "policy", "no_breach"]),
    "account": CaseCategory(root_causes=_COMMON_CAUSES),
    "card": CaseCategory(root_causes=_COMMON_CAUSES),
    "other": CaseCategory(root_causes=_COMMON_CAUSES),
    # Opened by a detractor's survey answer; must be closed within 48 hours.
    "detractor_follow_up": CaseCategory(
        sla=SlaTarget(first_answer_hours=24, resolve_hours=48, simple_resolve_hours=48),
        root_causes=["contacted_resolved", "contacted_unresolved", "not_reachable", "no_action_needed"],
    ),
}
FOLLOW_UP_CATEGORY = "detractor_follow_up"


class FeedbackSettings(EncryptionSettings):
    """Free-text comments, case descriptions and notes are encrypted at rest (they may name people)."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore")

    # Case categories with their SLA targets and root causes (JSON in FEEDBACK_CASE_CATEGORIES).
    case_categories: dict[str, CaseCategory] = DEFAULT_CATEGORIES
    # Where a breached case goes (a team code of the bank's work-queue system).
    escalation_team: str = "service-supervisors"
    # How often the SLA job looks for due deadlines (seconds), and how many it takes per run.
    sla_job_every_seconds: float = 5.0
    sla_job_batch: int = 100
    # A survey invitation can be answered for this long.
    invitation_valid_days: int = 30
    # The survey a customer is invited to when their case is resolved (published as
    # `survey.invited` for the bank's messaging system to deliver); "none" sends none.
    resolution_survey: Literal["csat", "nps", "ces", "none"] = "csat"
    # No invitation the service sends by itself (on resolution, for retention) to a customer it
    # sent one within this many days: surveys are not to wear customers out (0: no limit).
    # Staff invitations are not limited.
    survey_quiet_days: int = Field(7, ge=0)

    @model_validator(mode="after")
    def _follow_up_category(self):
        if FOLLOW_UP_CATEGORY not in self.case_categories:
            raise ValueError(f"FEEDBACK_CASE_CATEGORIES must define {FOLLOW_UP_CATEGORY!r} (detractor follow-ups)")
        return self
