"""Feedback's part of the data catalogue (services/kit/catalogue.py)."""

from services.kit.catalogue import MESSAGING, Catalogue, Category, Erasure, Sensitivity, field, table

BUS, BEH, OPS = Category.BUSINESS, Category.BEHAVIOUR, Category.OPERATIONAL
FREE_TEXT = {"sensitivity": Sensitivity.CONFIDENTIAL, "encrypted": True, "erasure": Erasure.DESTROY}

FEEDBACK = table("feedback", purpose="Satisfaction measurement (CSAT, NPS) and service improvement (R3.1).",
                 retention_from="receipt", fields=[
    field("id", OPS, "Answer id."),
    field("customer_id", OPS, "The customer.", identifying=True),
    field("survey", BEH, "CSAT or NPS."),
    field("score", BEH, "The score given."),
    field("channel", BEH, "Where it was given."),
    field("comment", BEH, "Free-text comment; may name people.", **FREE_TEXT),
    field("received_at", BEH, "When."),
])
COMPLAINTS = table("complaints", purpose="Complaint handling and regulatory complaint statistics (R3.3).",
                   retention_from="opening", fields=[
    field("id", OPS, "Complaint id."),
    field("customer_id", OPS, "The customer.", identifying=True),
    field("category", BUS, "Kind of complaint."),
    field("channel", BUS, "Where it was made."),
    field("description", BUS, "The customer's account; may name people.", **FREE_TEXT),
    field("status", BUS, "Open, resolved, ..."),
    field("opened_at", BUS, "When."),
])

CATALOGUE = Catalogue("feedback", [FEEDBACK, COMPLAINTS], shared=MESSAGING)
