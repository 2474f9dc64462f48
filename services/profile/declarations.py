"""Profile's part of the data catalogue (services/kit/catalogue.py): every field it stores.
Requests naming an undeclared customer field are refused ("minimum necessary"); the gateway
masks and shares customer fields by these declarations."""

from services.kit.catalogue import (
    AUDIT_LOG,
    MESSAGING,
    Catalogue,
    Category,
    Erasure,
    FieldDeclaration,
    Sensitivity,
    field,
    table,
)

__all__ = ["BY_NAME", "CATALOGUE", "FIELDS", "Category", "FieldDeclaration", "Sensitivity"]

B, BUS, R, BEH, OPS = Category.BASIC, Category.BUSINESS, Category.RISK, Category.BEHAVIOUR, Category.OPERATIONAL
CONF, RESTR = Sensitivity.CONFIDENTIAL, Sensitivity.RESTRICTED
GONE, ROW, KEEP = Erasure.DESTROY, Erasure.DELETE_ROW, Erasure.KEEP
PERSONAL = {"identifying": True, "encrypted": True, "erasure": GONE}

CUSTOMERS = table(
    "customers",
    purpose="Customer master data: knowing the customer (KYC), servicing and advice.",
    retention_from="end of the relationship (churned), or creation for a prospect who never became a customer",
    fields=[
        field("id", OPS, "Random customer id used across the platform.", identifying=True),
        field("name", B, "Full legal name.", sensitivity=CONF, **PERSONAL),
        field("national_id", B, "National identity number.", sensitivity=RESTR, **PERSONAL),
        field("phone", B, "Mobile phone number.", sensitivity=RESTR, **PERSONAL),
        field("email", B, "E-mail address.", sensitivity=CONF, **PERSONAL),
        field(
            "birth_date", B, "Date of birth (suitability checks for elderly customers).", sensitivity=CONF, **PERSONAL
        ),
        field("address", B, "Residential address.", sensitivity=CONF, **PERSONAL),
        field(
            "nationality",
            R,
            "Nationality, ISO 3166 alpha-2 (sanctions screening, AML risk).",
            sensitivity=CONF,
            **PERSONAL,
        ),
        field(
            "residence_country", R, "Country of residence, ISO 3166 alpha-2 (AML risk).", sensitivity=CONF, **PERSONAL
        ),
        field(
            "occupation",
            R,
            "Occupation code, e.g. salaried, money_services, casino (AML risk).",
            sensitivity=CONF,
            **PERSONAL,
        ),
        # AML assessment factors: never shared with a partner, whatever the consent (tipping-off).
        field(
            "onboarding_channel",
            R,
            "How the relationship began: branch, online, agent, partner (AML risk).",
            identifying=True,
        ),
        field(
            "cash_intensity",
            R,
            "Expected share of cash in the customer's business: low, medium, high (AML risk).",
            identifying=True,
        ),
        field(
            "national_id_index",
            B,
            "Keyed hash of the national ID for exact look-up.",
            identifying=True,
            erasure=GONE,
            blind_index_of="national_id",
        ),
        field(
            "phone_index",
            B,
            "Keyed hash of the phone number for exact look-up.",
            identifying=True,
            erasure=GONE,
            blind_index_of="phone",
        ),
        field("key_id", OPS, "Key that sealed the row's encrypted fields (rotation)."),
        field("assets_under_management", BUS, "Assets held with the bank, reporting currency."),
        field("product_holdings", BUS, "Number of products held (tiering)."),
        field("external_ref", BUS, "The bank's core-banking reference.", identifying=True, erasure=GONE),
        field(
            "duplicate_of",
            OPS,
            "The customer this record duplicates (same national ID), flagged for a compliance decision.",
        ),
        field("lifecycle_stage", BEH, "Prospect, onboarding, active, dormant or churned."),
        field("relationship_manager_id", BUS, "The assigned relationship manager.", identifying=True),
        field("tier", BUS, "High-net-worth, affluent, mass or potential (assets, holdings and activity)."),
        field(
            "risk_level", R, "Risk assessment C1 (most cautious) to C5, from the recommendation service's assessment."
        ),
        field("risk_level_valid_until", R, "When the risk assessment behind risk_level lapses."),
        field("risk_assessed_at", R, "When that assessment was completed (a late older one changes nothing)."),
        field(
            "erased_at",
            OPS,
            "When the identifiers were destroyed (the erasure tombstone, announced again "
            "until every consumer has surely applied it).",
        ),
        field("last_activity_at", BEH, "The customer's last interaction with the bank (tiering, dormancy)."),
        field("erasure_announced_at", OPS, "When the erasure was last announced to the other services."),
        field("version", OPS, "Record version (ETag)."),
        field("created_at", OPS, "When the record was created."),
        field("updated_at", OPS, "When it last changed."),
    ],
)
LIFECYCLE_HISTORY = table(
    "lifecycle_history",
    purpose="Lifecycle history of each customer (R1.1).",
    retention_from="the move (reasons destroyed at the behaviour limit)",
    fields=[
        field("id", OPS, "Order."),
        field("customer_id", OPS, "The customer.", identifying=True),
        field("from_stage", BEH, "Stage before."),
        field("to_stage", BEH, "Stage after."),
        field("at", BEH, "When."),
        field("actor", OPS, "Who moved it.", identifying=True),
        field("reason", BEH, "Why (staff's words).", sensitivity=CONF, erasure=GONE),
    ],
)
TIER_HISTORY = table(
    "tier_history",
    purpose="Tier history of each customer (R1.1).",
    retention_from="the change",
    fields=[
        field("id", OPS, "Order."),
        field("customer_id", OPS, "The customer.", identifying=True),
        field("from_tier", BUS, "Tier before."),
        field("to_tier", BUS, "Tier after."),
        field("at", BUS, "When."),
    ],
)
DOCUMENTS = table(
    "customer_documents",
    purpose="Identity documents for KYC and their expiry follow-up.",
    retention_from="end of the relationship (numbers destroyed with the customer's identifiers)",
    fields=[
        field("id", OPS, "Document id."),
        field("customer_id", OPS, "The customer.", identifying=True),
        field("type", B, "Kind of document."),
        field("document_number", B, "Document number.", sensitivity=RESTR, **PERSONAL),
        field(
            "number_index",
            B,
            "Keyed hash of the number (duplicates).",
            identifying=True,
            erasure=GONE,
            blind_index_of="document_number",
        ),
        field("key_id", OPS, "Key that sealed the number (rotation)."),
        field("issuer", B, "Issuing country or authority code."),
        field("issued_on", B, "Issue date."),
        field("expires_on", B, "Expiry date."),
        field("last_announced_status", OPS, "Last expiry status announced."),
        field("created_at", OPS, "When recorded."),
    ],
)
RELATIONSHIPS = table(
    "customer_relationships",
    purpose="Related parties (R1.1): spouse, guarantor, director, ...",
    retention_from="deleted with the customer's identifiers",
    fields=[
        field("id", OPS, "Link id.", erasure=ROW),
        field("customer_id", B, "One end.", identifying=True, erasure=ROW),
        field("related_customer_id", B, "The other end.", identifying=True, erasure=ROW),
        field("type", B, "What the related customer is to the first.", erasure=ROW),
        field("since", B, "Since when.", erasure=ROW),
        field("link_key", OPS, "The link named the same from either end.", identifying=True, erasure=ROW),
        field("created_at", OPS, "When recorded.", erasure=ROW),
    ],
)

HOUSEHOLDS = table(
    "households",
    purpose="Households as records (R1.1): combined assets of their members.",
    retention_from="ends when fewer than two members remain",
    fields=[
        field("id", OPS, "Household id."),
        field("created_at", OPS, "When formed."),
    ],
)
HOUSEHOLD_MEMBERS = table(
    "household_members",
    purpose="Who belongs to which household (R1.1).",
    retention_from="deleted when the member leaves or is erased",
    fields=[
        field("customer_id", B, "The member.", identifying=True, erasure=ROW),
        field("household_id", B, "Their household.", erasure=ROW),
        field("joined_at", B, "Since when.", erasure=ROW),
    ],
)
HOLDINGS = table(
    "holdings",
    purpose="The customer's products as core banking reports them (opened, closed): the number held "
    "for tiering (R1.1).",
    retention_from="deleted with the customer's identifiers",
    fields=[
        field("holding_id", B, "Core banking's id of the contract or account.", identifying=True, erasure=ROW),
        field("customer_id", OPS, "The customer.", identifying=True, erasure=ROW),
        field("product_code", BUS, "The product.", erasure=ROW),
        field("opened_at", BUS, "When core banking opened it.", erasure=ROW),
        field("closed_at", BUS, "When core banking closed it.", erasure=ROW),
        field("updated_at", OPS, "When core banking last reported it.", erasure=ROW),
    ],
)
SERVICE_REVIEWS = table(
    "service_reviews",
    purpose="Reviews the tier's service plan schedules (R4.1).",
    retention_from="kept with the customer's aggregates",
    fields=[
        field("id", OPS, "Review id."),
        field("customer_id", OPS, "The customer.", identifying=True),
        field("tier", BUS, "Tier when scheduled."),
        field("due_on", BUS, "When it is due."),
        field("assigned_to", BUS, "The manager or advisor who does it.", identifying=True),
        field("created_at", OPS, "When scheduled."),
        field("done_at", BUS, "When done."),
        field("done_by", BUS, "Who did it.", identifying=True),
    ],
)

# Sanctions/PEP screening and AML risk (services/profile/screening): list entries are public data
# about listed persons; alerts, decisions and ratings are compliance records kept for their legal
# period, naming the customer by the platform's random id.
SCREENING_LISTS = table(
    "screening_lists",
    purpose="Sanctions and PEP list versions loaded (R5.2).",
    retention_from="replacement by a newer version",
    fields=[
        field(name, OPS, description)
        for name, description in [
            ("id", "List version id."),
            ("name", "List name."),
            ("version", "Version number."),
            ("source", "File name and SHA-256 of its content."),
            ("list_format", "SDN CSV or FollowTheMoney."),
            ("entries", "Number of entries."),
            ("active", "The version in force."),
            ("loaded_at", "When loaded."),
        ]
    ],
)
SCREENING_ENTRIES = table(
    "screening_entries",
    purpose="Listed persons and entities, as published (R5.2).",
    retention_from="replacement of their list version",
    fields=[
        field(name, R, description)
        for name, description in [
            ("id", "Entry id."),
            ("list_id", "The list version."),
            ("entity_id", "The list's id of the entry."),
            ("names", "Names and aliases, as published."),
            ("birth_dates", "Birth dates, as published."),
            ("nationalities", "Nationalities, as published."),
            ("topics", "Sanction, PEP, ..."),
            ("fingerprint", "Hash of the entry (a changed entry raises a remembered alert again)."),
        ]
    ],
)
SCREENING_RUNS = table(
    "screening_runs",
    purpose="Re-screening of the whole book on a new list version.",
    retention_from="the run",
    fields=[
        field(name, OPS, description)
        for name, description in [
            ("id", "Run id."),
            ("list_id", "The list version screened against."),
            ("status", "Pending or done."),
            ("after_customer_id", "Where the run has reached."),
            ("screened", "Customers screened so far."),
            ("created_at", "When queued."),
            ("finished_at", "When done."),
        ]
    ],
)
SCREENING_ALERTS = table(
    "screening_alerts",
    purpose="Possible list matches for compliance decisions (R5.2, R6.2).",
    retention_from="closing of the alert",
    fields=[
        field("id", OPS, "Alert id."),
        field("customer_id", OPS, "The customer.", identifying=True),
        field(
            "reasons",
            R,
            "Which name parts matched and how (they quote the customer's name).",
            sensitivity=CONF,
            encrypted=True,
            erasure=GONE,
        ),
        *(
            field(name, R, description)
            for name, description in [
                ("list_name", "The list."),
                ("list_version", "Its version."),
                ("entity_id", "The list entry."),
                ("entry_fingerprint", "Hash of the entry then."),
                ("customer_fingerprint", "Keyed hash of the screened fields."),
                ("score", "Match score."),
                ("decision", "Match or review."),
                ("reason_code", "Sanctions, PEP or watch list."),
                ("trigger", "Onboarding, profile change or list version."),
                ("status", "Open, proposed or decided."),
                ("proposed_outcome", "The first officer's proposal."),
                ("created_at", "When raised."),
                ("closed_at", "When decided."),
            ]
        ),
    ],
)
SCREENING_DECISIONS = table(
    "screening_decisions",
    purpose="Two-person decisions on alerts (R5.2).",
    retention_from="the decision",
    fields=[
        field("id", OPS, "Decision id."),
        field("alert_id", OPS, "The alert."),
        field("actor", OPS, "The compliance officer."),
        field("outcome", R, "True match or false positive."),
        field("reason", R, "Why (the officer's words).", sensitivity=CONF, encrypted=True, erasure=GONE),
        field("at", R, "When."),
    ],
)
SCREENING_DISMISSALS = table(
    "screening_dismissals",
    purpose="False positives remembered per customer and entry.",
    retention_from="a change of the customer or the entry",
    fields=[
        field("customer_id", OPS, "The customer.", identifying=True),
        *(
            field(name, R, description)
            for name, description in [
                ("list_name", "The list."),
                ("entity_id", "The entry."),
                ("entry_fingerprint", "Hash of the entry then."),
                ("customer_fingerprint", "Keyed hash of the customer's screened fields then."),
                ("alert_id", "The alert decided."),
                ("at", "When."),
            ]
        ),
    ],
)
AML_RATINGS = table(
    "aml_ratings",
    purpose="Money-laundering risk rating per customer (R5.2).",
    retention_from="end of the relationship",
    fields=[
        field("customer_id", OPS, "The customer.", identifying=True),
        *(
            field(name, R, description)
            for name, description in [
                ("rating", "Low, medium or high."),
                ("score", "Points from the factors."),
                ("factors", "Codes of the factors that set it (no values)."),
                ("enhanced_due_diligence", "Enhanced due diligence required."),
                ("rated_at", "When."),
                ("review_due", "Next review."),
            ]
        ),
    ],
)
AML_REVIEWS = table(
    "aml_reviews",
    purpose="Periodic reviews of AML ratings (tasks).",
    retention_from="completion",
    fields=[
        field("id", OPS, "Review id."),
        field("customer_id", OPS, "The customer.", identifying=True),
        *(
            field(name, R, description)
            for name, description in [
                ("rating", "Rating reviewed."),
                ("due_on", "Due."),
                ("status", "Open or done."),
                ("created_at", "When scheduled."),
                ("completed_at", "When completed."),
            ]
        ),
        field("completed_by", OPS, "Who completed it."),
    ],
)

CUSTOMER_BOOK = table(
    "customer_book",
    purpose="Bank-wide customer KPIs over any window (R5.2, R6.2, R7.2): counts and sums, no customer.",
    retention_from="the day, month or year summed",
    fields=[
        field("dimension", OPS, "The breakdown: tier, stage, manager or risk_level."),
        field("period", OPS, "Day, month or year."),
        field("starts_on", OPS, "The first day of the period."),
        field("value", OPS, "The breakdown's value (a manager's id under `manager`).", identifying=True),
        field("customers", BUS, "Customers created in the period, not erased."),
        field("assets", BUS, "Those customers' assets under management now."),
        field("high_risk", R, "Those of them with a high risk appetite now."),
        field("churned", BEH, "Moves to churned in the period."),
        field("documents", OPS, "Identity documents expiring in the period."),
    ],
)

TABLES = [
    CUSTOMERS,
    LIFECYCLE_HISTORY,
    TIER_HISTORY,
    DOCUMENTS,
    HOLDINGS,
    RELATIONSHIPS,
    HOUSEHOLDS,
    HOUSEHOLD_MEMBERS,
    SERVICE_REVIEWS,
    SCREENING_LISTS,
    SCREENING_ENTRIES,
    SCREENING_RUNS,
    SCREENING_ALERTS,
    SCREENING_DECISIONS,
    SCREENING_DISMISSALS,
    AML_RATINGS,
    AML_REVIEWS,
    CUSTOMER_BOOK,
]
CATALOGUE = Catalogue("profile", TABLES, shared=[*MESSAGING, AUDIT_LOG])

# The customer record's own fields, as requests and responses name them.
FIELDS: tuple[FieldDeclaration, ...] = tuple(
    f for f in CATALOGUE.fields("customers") if f.category is not Category.OPERATIONAL and not f.name.endswith("_index")
)
BY_NAME = {f.name: f for f in FIELDS}
