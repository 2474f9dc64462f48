"""Kafka topic names. One topic per aggregate keeps one customer's events of that kind in order."""

CUSTOMER = "crm.customer"
CONSENT = "crm.consent"
FEEDBACK = "crm.feedback"
COMPLAINT = "crm.complaint"
CHURN = "crm.churn"
# Published by core-banking systems, not by the platform: posted transactions, balance snapshots.
COREBANKING_ACTIVITY = "crm.corebanking.activity"
# Messages a consumer could not handle, with the reason in headers (see events.consumer).
DEAD_LETTER = "crm.dead-letter"

ALL = (CUSTOMER, CONSENT, FEEDBACK, COMPLAINT, CHURN, COREBANKING_ACTIVITY, DEAD_LETTER)
