"""Recommendation's part of the data catalogue (services/kit/catalogue.py)."""

from services.kit.catalogue import MESSAGING, Catalogue, Category, Erasure, field, table

BUS, R, OPS = Category.BUSINESS, Category.RISK, Category.OPERATIONAL
ROW = {"erasure": Erasure.DELETE_ROW}

PRODUCTS = table("products", purpose="The product catalogue (reference data; nobody's personal data).",
                 retention_from="not personal data: kept while offered", fields=[
    field("code", OPS, "Product code."),
    field("name", OPS, "Product name."),
    field("category", OPS, "Deposit, fund, insurance, ..."),
    field("risk_level", OPS, "Product risk R1-R5."),
    field("description", OPS, "Description."),
    field("active", OPS, "Offered now."),
])
CUSTOMERS = table("customers", purpose="Suitability of recommendations (risk level vs product risk, R6.1).",
                  retention_from="the last customer event", fields=[
    field("customer_id", OPS, "The customer.", identifying=True, **ROW),
    field("risk_level", R, "Risk assessment C1-C5 (from profile's events).", **ROW),
    field("assets_under_management", BUS, "Assets (from profile's events).", **ROW),
    field("last_event_time", OPS, "Time of the event the state comes from.", **ROW),
    field("updated_at", OPS, "When stored.", **ROW),
])
MARKETING_CONSENTS = table("marketing_consents", purpose="No recommendation without an active marketing consent.",
                           retention_from="the end of the consent", fields=[
    field("consent_id", OPS, "The consent.", **ROW),
    field("customer_id", OPS, "The customer.", identifying=True, **ROW),
    field("expires_at", BUS, "When it ends.", **ROW),
    field("active", BUS, "Active now.", **ROW),
])

CATALOGUE = Catalogue("recommendation", [PRODUCTS, CUSTOMERS, MARKETING_CONSENTS], shared=MESSAGING)
