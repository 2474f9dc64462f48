"""Consent's part of the data catalogue (services/kit/catalogue.py)."""

from services.kit.catalogue import (
    AUDIT_LOG,
    KNOWN_CUSTOMERS,
    MESSAGING,
    Catalogue,
    Category,
    Erasure,
    Sensitivity,
    field,
    table,
)

BUS, OPS = Category.BUSINESS, Category.OPERATIONAL
PSEUDO = {"identifying": True, "erasure": Erasure.PSEUDONYMISE}

CONSENTS = table(
    "consents",
    purpose="Proof of the customer's permissions to use and share their data (R2.4, R6.1).",
    retention_from="the end of the consent (revoked, expired or rejected)",
    fields=[
        field("id", OPS, "Consent id."),
        field("customer_id", BUS, "The customer; a keyed pseudonym once erased.", **PSEUDO),
        field("recipient", BUS, "Who may receive the data."),
        field("recipient_type", BUS, "Internal unit or outside party."),
        field("purpose", BUS, "What for."),
        field("data_categories", BUS, "Which categories of data."),
        field("legal_basis", BUS, "Consent, contract, legal obligation, ..."),
        field("channel", BUS, "Where it was given."),
        field("language", BUS, "Language of the notice."),
        field("notice_text", BUS, "The notice exactly as the customer saw it.", sensitivity=Sensitivity.CONFIDENTIAL),
        field("notice_text_sha256", BUS, "Hash of the notice (proof of its content)."),
        field("status", BUS, "Requested, active, rejected, revoked or expired."),
        field("created_at", BUS, "When recorded."),
        field("requested_at", BUS, "When the bank requested it."),
        field("requested_by", BUS, "Who requested it.", **PSEUDO),
        field("decided_at", BUS, "When it was approved or rejected."),
        field("decided_by", BUS, "Who decided.", **PSEUDO),
        field("granted_at", BUS, "When it became active."),
        field("granted_by", BUS, "Who made it active.", **PSEUDO),
        field("expires_at", BUS, "When it ends by itself."),
        field("revoked_at", BUS, "When it was revoked."),
        field("revoked_by", BUS, "Who revoked it.", **PSEUDO),
    ],
)
HISTORY = table(
    "consent_history",
    purpose="Status of each consent at any past time (as-of decisions).",
    retention_from="deleted with its consent",
    fields=[
        field("id", OPS, "Order."),
        field("consent_id", OPS, "The consent."),
        field("customer_id", BUS, "The customer; a pseudonym once erased.", **PSEUDO),
        field("from_status", BUS, "Status before."),
        field("to_status", BUS, "Status after."),
        field("at", BUS, "When."),
        field("actor", BUS, "Who.", **PSEUDO),
        field("reason", BUS, "Why.", sensitivity=Sensitivity.CONFIDENTIAL),
    ],
)

DECISION_TALLIES = table(
    "decision_tallies",
    purpose="Consent KPIs: share decisions per day (anonymous counts).",
    retention_from="the day",
    fields=[
        field("day", OPS, "The day."),
        field("recipient", OPS, "Who asked to use the data."),
        field("purpose", OPS, "For what."),
        field("decision", OPS, "Permit or deny."),
        field("count", OPS, "How many decisions."),
    ],
)

CONSENT_COUNTS = [
    table(
        name,
        purpose=f"Consent KPIs: consents granted, revoked and ended per {period} (anonymous counts).",
        retention_from=f"the {period}",
        fields=[
            field(period, OPS, f"The {period} (UTC)."),
            field("purpose", OPS, "For what."),
            field("recipient_type", OPS, "Internal or external recipient."),
            field("channel", OPS, "Channel the consents were given in."),
            field("granted", OPS, "How many consents were granted."),
            field("revoked", OPS, "How many were revoked."),
            field("ended", OPS, "How many stopped being active (revoked or expired)."),
        ],
    )
    for name, period in (("consent_days", "day"), ("consent_months", "month"))
]

CATALOGUE = Catalogue(
    "consent", [CONSENTS, HISTORY, DECISION_TALLIES, *CONSENT_COUNTS], shared=[*MESSAGING, AUDIT_LOG, KNOWN_CUSTOMERS]
)
