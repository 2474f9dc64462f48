"""Kafka topic names. One topic per aggregate keeps one customer's events of that kind in order."""

CUSTOMER = "crm.customer"
CONSENT = "crm.consent"
FEEDBACK = "crm.feedback"
COMPLAINT = "crm.complaint"
CHURN = "crm.churn"
# Messages a consumer could not handle, with the reason in headers (see events.consumer).
DEAD_LETTER = "crm.dead-letter"

# Signed checkpoints of each audit chain's head, kept outside the chain's database (append-only;
# see services/kit/audit.py). Key: the chain's identity.
AUDIT_CHECKPOINTS = "crm.audit-checkpoints"

ALL = (CUSTOMER, CONSENT, FEEDBACK, COMPLAINT, CHURN, DEAD_LETTER, AUDIT_CHECKPOINTS)
