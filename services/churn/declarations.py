"""Churn's part of the data catalogue (services/kit/catalogue.py)."""

from services.kit.catalogue import MESSAGING, Catalogue, Category, Erasure, field, table

BUS, BEH, OPS = Category.BUSINESS, Category.BEHAVIOUR, Category.OPERATIONAL
ROW = {"erasure": Erasure.DELETE_ROW}

FEATURES = table("customer_features", purpose="Churn prediction and retention outreach (R3.2).",
                 retention_from="the last event about the customer", fields=[
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
    field("score", BEH, "Churn score 0-100.", **ROW),
    field("level", BEH, "Low, medium or high.", **ROW),
    field("updated_at", BEH, "When the features last changed.", **ROW),
])

CATALOGUE = Catalogue("churn", [FEATURES], shared=MESSAGING)
