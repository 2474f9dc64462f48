"""Churn's part of the data catalogue (services/kit/catalogue.py)."""

from services.kit.catalogue import MESSAGING, Catalogue, Category, Erasure, field, table

BUS, BEH, OPS = Category.BUSINESS, Category.BEHAVIOUR, Category.OPERATIONAL
ROW = {"erasure": Erasure.DELETE_ROW}

FEATURES = table(
    "customer_features",
    purpose="Churn prediction and retention outreach (R3.2).",
    retention_from="the last event about the customer",
    fields=[
        field("customer_id", OPS, "The customer.", identifying=True, **ROW),
        field("assets_under_management", BUS, "Current assets (from profile's events).", **ROW),
        field("previous_assets", BUS, "Assets before the last change.", **ROW),
        field("peak_assets", BUS, "Highest assets seen.", **ROW),
        field("customer_event_time", OPS, "Time of the customer event the assets come from.", **ROW),
        field("complaints", BEH, "Complaints opened.", **ROW),
        field("low_csat", BEH, "Low satisfaction answers.", **ROW),
        field("nps_detractors", BEH, "NPS detractor answers.", **ROW),
        field("last_feedback_survey", BEH, "Survey of the last answer.", **ROW),
        field("last_feedback_score", BEH, "Score of the last answer.", **ROW),
        field(
            "state",
            BEH,
            "Running feature state folded from events (decayed counts, last times, core banking holding ids).",
            **ROW,
        ),
        field("manager_id", BUS, "The customer's relationship manager (task routing).", **ROW),
        field("tier", BUS, "The customer's tier.", **ROW),
        field("churned_at", BEH, "When the customer left, if they did (KPIs).", **ROW),
        field("first_seen_at", OPS, "First event about the customer.", **ROW),
        field("probability", BEH, "Churn probability of the promoted model.", **ROW),
        field("lifetime_value", BUS, "Estimated lifetime value from the assets and the probability.", **ROW),
        field("model", OPS, "Model version (or rules) behind the score.", **ROW),
        field("score", BEH, "Churn score 0-100.", **ROW),
        field("level", BEH, "Low, medium or high.", **ROW),
        field("updated_at", BEH, "When the features last changed.", **ROW),
    ],
)

INTERVENTIONS = table(
    "retention_interventions",
    purpose="Retention playbooks per band rise, treated or hold-out (R4.3).",
    retention_from="the intervention",
    fields=[
        field("id", OPS, "Intervention id."),
        field("customer_id", OPS, "The customer.", identifying=True),
        *(
            field(name, BEH, description)
            for name, description in [
                ("band", "Band risen to."),
                ("previous_band", "Band before."),
                ("group", "Treated or hold-out."),
                ("probability", "Churn probability then."),
                ("model", "Model version."),
                ("reasons", "Codes of the top features."),
                ("created_at", "When."),
            ]
        ),
    ],
)
TASKS = table(
    "retention_tasks",
    purpose="Retention work for relationship managers (R4.3).",
    retention_from="the task",
    fields=[
        field("id", OPS, "Task id."),
        field("intervention_id", OPS, "The intervention."),
        field("customer_id", OPS, "The customer.", identifying=True),
        field("manager_id", OPS, "The manager who owns it."),
        *(
            field(name, BUS, description)
            for name, description in [
                ("kind", "Call with a retention offer, call-back, survey."),
                ("band", "The band."),
                ("offer_points", "Points offered."),
                ("due_at", "Due."),
                ("status", "Open, done or cancelled."),
                ("outcome", "What came of it."),
                ("completed_at", "When done."),
            ]
        ),
        field("completed_by", OPS, "Who completed it."),
        field("created_at", OPS, "When created."),
    ],
)
POINTS_ACCOUNTS = table(
    "points_accounts",
    purpose="Loyalty points balance (R4.2).",
    retention_from="the last movement",
    fields=[
        field("customer_id", OPS, "The customer.", identifying=True),
        field("balance", BUS, "Points balance (the sum of the movements)."),
        field("updated_at", OPS, "Last movement."),
    ],
)
POINTS_MOVEMENTS = table(
    "points_movements",
    purpose="Loyalty points ledger: earn, redeem, expire, adjust (R4.2).",
    retention_from="the movement",
    fields=[
        field("id", OPS, "Movement id."),
        field("customer_id", OPS, "The customer.", identifying=True),
        *(
            field(name, BUS, description)
            for name, description in [
                ("kind", "Earn, redeem, expire or adjust."),
                ("points", "Points (signed)."),
                ("reason", "Why (a code)."),
                ("created_at", "When."),
                ("expires_at", "When earned points expire."),
            ]
        ),
        field("source_id", OPS, "Id of the event or request that caused it (idempotency)."),
    ],
)

VALUE_BASIS = table(
    "lifetime_value_basis",
    purpose="The settings the stored lifetime values were computed with (no customer data).",
    retention_from="the settings' change",
    fields=[
        field("id", OPS, "Always 1."),
        field("margin_rate", OPS, "Yearly margin on assets."),
        field("discount_rate", OPS, "Yearly discount rate."),
        field("horizon_years", OPS, "Years valued."),
    ],
)

CATALOGUE = Catalogue(
    "churn", [FEATURES, INTERVENTIONS, TASKS, POINTS_ACCOUNTS, POINTS_MOVEMENTS, VALUE_BASIS], shared=MESSAGING
)
