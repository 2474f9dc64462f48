"""Recommendation's part of the data catalogue (services/kit/catalogue.py)."""

from services.kit.catalogue import AUDIT_LOG, MESSAGING, Catalogue, Category, Erasure, Sensitivity, field, table

BUS, R, BEH, OPS = Category.BUSINESS, Category.RISK, Category.BEHAVIOUR, Category.OPERATIONAL
ROW = {"erasure": Erasure.DELETE_ROW}
CUSTOMER = {"identifying": True}
CONF = {"sensitivity": Sensitivity.CONFIDENTIAL}
# Suitability records (assessments, checks, lists, mismatches) are the bank's proof of advice and
# are kept for their legal period; they name the customer only by the platform's random id, which
# no longer leads to anyone once profile has destroyed the identifiers.
PROOF = "suitability proof kept for its legal period; customer only by random id"


def _fields(category, description_by_name: dict[str, str], **declared):
    return [field(name, category, description, **declared) for name, description in description_by_name.items()]


PRODUCTS = table(
    "products",
    purpose="The product catalogue (reference data; nobody's personal data).",
    retention_from="not personal data: kept while offered",
    fields=[
        *_fields(
            OPS,
            {
                "code": "Product code.",
                "title": "Product name.",
                "category": "Deposit, fund, insurance, ...",
                "product_type": "Deposit, wealth management, fund, insurance or loan.",
                "risk_level": "Product risk R1-R5.",
                "horizon_years": "Recommended holding period.",
                "liquidity_days": "Days to get the money back.",
                "min_amount": "Minimum amount.",
                "complexity": "Simple or complex.",
                "description": "Description.",
                "status": "On sale, suspended or withdrawn.",
                "active": "Offered now.",
                "version": "Product version.",
                "catalogue_version": "Catalogue version of the last change.",
                "updated_at": "Last change.",
            },
        ),
    ],
)
PRODUCT_VERSIONS = table(
    "product_versions",
    purpose="Every product change, for audit and replay of decisions.",
    retention_from="not personal data: kept with the catalogue",
    fields=[
        *_fields(
            OPS,
            {
                "code": "Product code.",
                "version": "Product version.",
                "catalogue_version": "Catalogue version.",
                "data": "The product as it was.",
                "change": "Added, changed, re-rated or withdrawn.",
                "changed_by": "Who changed it (staff id).",
                "changed_by_role": "Their role.",
                "changed_at": "When.",
            },
        ),
    ],
)
CUSTOMERS = table(
    "customers",
    purpose="Suitability of recommendations (risk level vs product risk, R6.1).",
    retention_from="the last customer event",
    fields=[
        field("customer_id", OPS, "The customer.", identifying=True, **ROW),
        field("risk_level", R, "Risk assessment C1-C5 (from profile's events).", **ROW),
        field("age_band", R, "Age band (elderly-customer rules; from profile's events).", **ROW),
        field("assets_under_management", BUS, "Assets (from profile's events).", **ROW),
        field("last_event_time", OPS, "Time of the event the state comes from.", **ROW),
        field("updated_at", OPS, "When stored.", **ROW),
    ],
)
MARKETING_CONSENTS = table(
    "marketing_consents",
    purpose="No recommendation without an active marketing consent.",
    retention_from="the end of the consent",
    fields=[
        field("consent_id", OPS, "The consent.", **ROW),
        field("customer_id", OPS, "The customer.", identifying=True, **ROW),
        field("expires_at", BUS, "When it ends.", **ROW),
        field("active", BUS, "Active now.", **ROW),
    ],
)

HOLDINGS = table(
    "holdings",
    purpose="What each customer holds (suitability, concentration, similar customers).",
    retention_from="closing of the holding",
    fields=[
        field("holding_id", OPS, "Holding id."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        *_fields(
            BUS,
            {
                "product_code": "The product.",
                "amount": "Amount held.",
                "source": "Core banking or a sale here.",
                "check_id": "The suitability check behind a sale here.",
                "opened_at": "Opened.",
                "closed_at": "Closed.",
            },
        ),
    ],
)
ASSESSMENTS = table(
    "risk_assessments",
    purpose=f"Risk assessment of the customer (R3.2); {PROOF}.",
    retention_from="supersession by a newer assessment",
    fields=[
        field("id", OPS, "Assessment id."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        *_fields(
            R,
            {
                "questionnaire_version": "Questionnaire version.",
                "answers": "The answers given.",
                "points": "Score.",
                "risk_level": "C1-C5.",
                "lowest_category": "Lowest-category flag.",
                "vulnerable": "Vulnerable customer (extra protection).",
                "horizon_years": "Stated horizon.",
                "liquidity_days": "Stated liquidity need.",
                "goals": "Stated goals.",
                "age_band": "Age band then.",
                "asset_band": "Assets band then.",
                "completed_at": "When.",
                "valid_until": "Valid until.",
                "reassessment_due_on": "Re-assessment due.",
                "reassessment_reason": "Why re-assessment is due.",
                "superseded_at": "When a newer assessment replaced it.",
            },
            **CONF,
        ),
        field("recorded_by", OPS, "The customer or the manager who recorded it."),
        field("recorded_by_role", OPS, "Their role."),
    ],
)
CHECKS = table(
    "suitability_checks",
    purpose=f"Suitability decision of a proposed sale (R3.2); {PROOF}.",
    retention_from="the decision",
    fields=[
        field("id", OPS, "Check id."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        *_fields(
            R,
            {
                "product_code": "The product.",
                "product_version": "Its version.",
                "product_risk_level": "R1-R5 then.",
                "customer_risk_level": "C1-C5 then.",
                "amount": "Proposed amount.",
                "result": "Pass, warn or block.",
                "rule_ids": "Rules that fired.",
                "verdict": "Each rule's reasoning.",
                "inputs": "The facts used.",
                "ruleset_version": "Rule-set version.",
                "questionnaire_version": "Questionnaire version.",
                "assessment_id": "The assessment used.",
                "customer_as_of": "Time of the customer data used.",
                "overridden": "The customer insisted after the warning.",
                "warning_hash": "SHA-256 of the warning acknowledged.",
                "cooling_off_until": "Cooling-off end.",
                "follow_up_due_on": "Follow-up due.",
                "decided_at": "When.",
                "sold_at": "When sold, if it was.",
            },
        ),
        field("decided_by", OPS, "Who asked."),
        field("decided_by_role", OPS, "Their role."),
    ],
)
LISTS = table(
    "recommendation_lists",
    purpose=f"Recommendations made and why (R3.2, R6.1); {PROOF}.",
    retention_from="the list",
    fields=[
        field("id", OPS, "List id."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        *_fields(
            R,
            {
                "mode": "Proactive or advice asked in service.",
                "ruleset_version": "Rule-set version.",
                "questionnaire_version": "Questionnaire version.",
                "assessment_id": "The assessment used.",
                "catalogue_version": "Catalogue version.",
                "customer_as_of": "Time of the customer data used.",
                "inputs": "The facts used.",
                "picks": "Products recommended, with reasons.",
                "exclusions": "Products excluded, with rule ids.",
                "made_at": "When.",
            },
        ),
        field("made_by", OPS, "Who asked."),
        field("made_by_role", OPS, "Their role."),
    ],
)
ITEMS = table(
    "recommendation_items",
    purpose="Open recommendations per product (re-matching on re-rating).",
    retention_from="the list",
    fields=[
        field("recommendation_id", OPS, "The list."),
        field("product_code", BUS, "The product."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        field("rank", BUS, "Its rank."),
        field("open", BUS, "Still open (not superseded)."),
    ],
)
MISMATCHES = table(
    "suitability_mismatches",
    purpose=f"Holdings and recommendations that stopped fitting; {PROOF}.",
    retention_from="detection",
    fields=[
        field("id", OPS, "Mismatch id."),
        field("customer_id", OPS, "The customer.", **CUSTOMER),
        *_fields(
            R,
            {
                "product_code": "The product.",
                "product_risk_level": "R1-R5 now.",
                "customer_risk_level": "C1-C5 now.",
                "holding_id": "The holding concerned.",
                "recommendation_id": "The recommendation concerned.",
                "rule_ids": "Rules broken.",
                "cause": "Re-rating or re-assessment.",
                "detected_at": "When.",
            },
        ),
    ],
)
POPULARITY = table(
    "segment_popularity",
    purpose="What similar customers hold (ranking); anonymous shares.",
    retention_from="replaced at each learning run",
    fields=[
        *_fields(
            OPS,
            {
                "segment": "Risk level, age band and assets band.",
                "product_code": "The product.",
                "share": "Share of the segment holding it.",
                "learned_at": "When learned.",
            },
        ),
    ],
)
CHECK_DAYS = table(
    "suitability_check_days",
    purpose="Suitability KPIs over any window (R3.2, R7.2): counts of checks per day, no customer.",
    retention_from="the day counted",
    fields=_fields(
        OPS,
        {
            "day": "The day of decision (UTC).",
            "product_code": "The product.",
            "product_risk_level": "R1-R5 then.",
            "result": "Pass, warn or block.",
            "overridden": "The customer insisted after the warning.",
            "count": "Checks decided that day with these values.",
        },
    ),
)
MISMATCH_DAYS = table(
    "suitability_mismatch_days",
    purpose="Suitability KPIs over any window (R3.2, R7.2): counts of mismatches per day, no customer.",
    retention_from="the day counted",
    fields=_fields(
        OPS,
        {
            "day": "The day of detection (UTC).",
            "product_code": "The product.",
            "product_risk_level": "R1-R5 now.",
            "count": "Mismatches detected that day with these values.",
        },
    ),
)

CATALOGUE = Catalogue(
    "recommendation",
    [
        PRODUCTS,
        PRODUCT_VERSIONS,
        CUSTOMERS,
        MARKETING_CONSENTS,
        HOLDINGS,
        ASSESSMENTS,
        CHECKS,
        LISTS,
        ITEMS,
        MISMATCHES,
        POPULARITY,
        CHECK_DAYS,
        MISMATCH_DAYS,
    ],
    shared=[*MESSAGING, AUDIT_LOG],
)
