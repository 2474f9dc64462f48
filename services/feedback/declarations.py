"""Feedback's part of the data catalogue (services/kit/catalogue.py): cases, surveys, SLA clocks,
the customer read model and the KPI sums."""

from services.kit.catalogue import MESSAGING, Catalogue, Category, Erasure, Sensitivity, field, table

BUS, BEH, OPS = Category.BUSINESS, Category.BEHAVIOUR, Category.OPERATIONAL
FREE_TEXT = {"sensitivity": Sensitivity.CONFIDENTIAL, "encrypted": True, "erasure": Erasure.DESTROY}
CUSTOMER = {"identifying": True}

CASES = table(
    "cases",
    purpose="Service requests and complaints, handled within their SLA (R3.1, R3.3).",
    retention_from="opening",
    fields=[
        field("id", OPS, "Case id."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        field("kind", BUS, "Service request, complaint or detractor follow-up."),
        field("category", BUS, "What the case is about."),
        field("channel", BUS, "Where it was opened."),
        field("priority", BUS, "Priority."),
        field("complexity", BUS, "Simple or complex (sets the resolution target)."),
        field("product", BUS, "The product concerned, if any."),
        field("tier", BUS, "The customer's tier when the case was opened (KPI breakdown)."),
        field("state", BUS, "Where the case is in its life cycle."),
        field("description", BUS, "The customer's account; may name people.", **FREE_TEXT),
        field("assignee", OPS, "The agent working on it."),
        field("team", OPS, "The team working on it."),
        field("root_cause", BUS, "Root cause from the configured list, at closing."),
        field("reopened_from", OPS, "The case this one reopens."),
        field("answer_id", OPS, "The detractor answer this case follows up."),
        field("opened_by", OPS, "Who opened it."),
        field("opened_at", BUS, "When."),
        field("first_answer_at", BUS, "When the customer first had an answer."),
        field("resolved_at", BUS, "When it was resolved."),
        field("followed_up_at", BUS, "When the customer was followed up."),
        field("closed_at", BUS, "When it was closed."),
        field("escalated_at", BUS, "When it was escalated to a supervisor."),
        field("sla_breached", BUS, "Whether a deadline was missed."),
        field("updated_at", OPS, "Last change."),
    ],
)
CASE_NOTES = table(
    "case_notes",
    purpose="The work on a case (R3.3).",
    retention_from="the case's opening",
    fields=[
        field("id", OPS, "Note id."),
        field("case_id", OPS, "The case."),
        field("author", OPS, "Who wrote it."),
        field("body", BUS, "The note; may name people.", **FREE_TEXT),
        field("created_at", OPS, "When."),
    ],
)
SLA_CLOCKS = table(
    "sla_clocks",
    purpose="Deadlines of a case's first answer and resolution (R3.1).",
    retention_from="the case's opening",
    fields=[
        field("id", OPS, "Clock id."),
        field("case_id", OPS, "The case."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        *(
            field(name, BUS, description)
            for name, description in [
                ("kind", "First answer or resolution."),
                ("state", "Running, paused, met or breached."),
                ("started_at", "When the clock started."),
                ("warning_at", "When a warning is due."),
                ("breach_at", "The deadline."),
                ("paused_at", "Since when it waits on the customer."),
                ("next_due_at", "When the escalation job next looks at it."),
                ("warned_at", "When the warning went out."),
                ("escalated_at", "When it was escalated."),
                ("met_at", "When the target was met."),
                ("breached", "Whether the deadline passed."),
            ]
        ),
    ],
)
ANSWERS = table(
    "feedback",
    purpose="Satisfaction measurement (CSAT, NPS, CES) and service improvement (R3.1).",
    retention_from="receipt",
    fields=[
        field("id", OPS, "Answer id."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        field("survey", BEH, "CSAT, NPS or CES."),
        field("score", BEH, "The score given."),
        field("channel", BEH, "Where it was given."),
        field("comment", BEH, "Free-text comment; may name people.", **FREE_TEXT),
        field("received_at", BEH, "When."),
        field("invitation_id", OPS, "The invitation answered."),
        field("case_id", OPS, "The case rated, if any."),
        field("interaction_id", OPS, "The interaction rated, if any."),
        field("tier", BEH, "The customer's tier when they answered (KPI breakdown)."),
        field("product", BEH, "The product the rated interaction concerned."),
        field("detractor", BEH, "Whether the answer is a detractor's (opens a follow-up)."),
    ],
)
INVITATIONS = table(
    "survey_invitations",
    purpose="One answer per invitation, without a staff login (R3.1).",
    retention_from="creation",
    fields=[
        field("id", OPS, "Invitation id."),
        field("token_hash", OPS, "SHA-256 of the single-use token (the token itself is never stored)."),
        field("customer_id", OPS, "The customer invited.", **CUSTOMER),
        field("survey", BEH, "CSAT, NPS or CES."),
        field("channel", BEH, "Where the survey is answered."),
        field("case_id", OPS, "The case to rate, if any."),
        field("interaction_id", OPS, "The interaction to rate, if any."),
        field("product", BEH, "The product concerned."),
        field("created_by", OPS, "Who sent it."),
        field("created_at", OPS, "When."),
        field("expires_at", OPS, "Until when it can be answered."),
        field("answered_at", OPS, "When it was answered."),
    ],
)
KNOWN_CUSTOMERS = table(
    "known_customers",
    purpose="Scoping by manager and KPI breakdown by tier, from profile's events.",
    retention_from="the last event",
    fields=[
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        field("relationship_manager_id", BUS, "Their relationship manager."),
        field("tier", BUS, "Their current tier."),
        field("erased_at", OPS, "When the customer was erased (their id is refused from then on)."),
        field("updated_at", OPS, "Last event applied."),
    ],
)
ANSWER_SUM_NAMES = (
    "csat_n",
    "csat_satisfied",
    "nps_n",
    "nps_promoters",
    "nps_detractors",
    "ces_n",
    "ces_sum",
    "detractors",
    "in_time",
)
CASE_SUM_NAMES = (
    "cases",
    "complaints",
    "breached",
    "answered",
    "first_answer_hours",
    "resolved",
    "resolve_hours",
    "resolved_originals",
    "reopened",
)


def _sums(name: str, period: str, items: str, names: tuple[str, ...]):
    if period == "hour":
        key = [
            field("hour", OPS, "The hour summed."),
            field("channel", OPS, "Channel."),
            field("tier", OPS, "Tier."),
            field("product", OPS, "Product."),
        ]
    else:
        key = [
            field("day", OPS, "The day summed."),
            field("dimension", OPS, "The breakdown (channel, tier, product; empty for the day's total)."),
            field("value", OPS, "The breakdown's value (a channel, tier or product code)."),
        ]
    return table(
        name,
        purpose="Service KPIs over any window (R7.2): anonymous counts.",
        retention_from=f"the {period}",
        fields=[*key, *(field(n, OPS, f"A count or sum over {items} in the {period} and group.") for n in names)],
    )


ANSWER_SUMS = _sums("kpi_answers_hourly", "hour", "answers", ANSWER_SUM_NAMES)
CASE_SUMS = _sums("kpi_cases_hourly", "hour", "cases", CASE_SUM_NAMES)
ANSWER_DAILY_SUMS = _sums("kpi_answers_daily", "day", "answers", ANSWER_SUM_NAMES)
CASE_DAILY_SUMS = _sums("kpi_cases_daily", "day", "cases", CASE_SUM_NAMES)

CATALOGUE = Catalogue(
    "feedback",
    [
        CASES,
        CASE_NOTES,
        SLA_CLOCKS,
        ANSWERS,
        INVITATIONS,
        KNOWN_CUSTOMERS,
        ANSWER_SUMS,
        CASE_SUMS,
        ANSWER_DAILY_SUMS,
        CASE_DAILY_SUMS,
    ],
    shared=MESSAGING,
)
