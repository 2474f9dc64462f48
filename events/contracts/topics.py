"""Kafka topic names. One topic per aggregate keeps one customer's events of that kind in order."""

CUSTOMER = "crm.customer"
CONSENT = "crm.consent"
FEEDBACK = "crm.feedback"
COMPLAINT = "crm.complaint"
CASE = "crm.case"
CHURN = "crm.churn"
# Risk assessments (results, re-assessment requests) owned by the recommendation service.
RISK_ASSESSMENT = "crm.risk-assessment"
# Suitability findings and recommendation lists, for relationship managers' follow-up.
SUITABILITY = "crm.suitability"
# Products opened and closed in core banking (published by the bank's core systems).
COREBANKING_HOLDINGS = "crm.corebanking.holdings"
# Sanctions/PEP screening hits and clearances, money-laundering risk ratings.
SCREENING = "crm.screening"
# Published by core-banking systems, not by the platform: posted transactions, balance snapshots.
COREBANKING_ACTIVITY = "crm.corebanking.activity"
# Messages a consumer could not handle, with the reason in headers (see events.consumer).
DEAD_LETTER = "crm.dead-letter"

# Signed checkpoints of each audit chain's head, kept outside the chain's database (append-only;
# see services/kit/audit.py). Key: the chain's identity.
AUDIT_CHECKPOINTS = "crm.audit-checkpoints"

ALL = (
    CUSTOMER, CONSENT, FEEDBACK, COMPLAINT, CASE, CHURN, RISK_ASSESSMENT, SUITABILITY, COREBANKING_HOLDINGS,
    SCREENING, COREBANKING_ACTIVITY, AUDIT_CHECKPOINTS, DEAD_LETTER,
)
