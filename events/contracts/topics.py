"""Kafka topic names. One topic per aggregate keeps one customer's events of that kind in order."""

CUSTOMER = "crm.customer"
CONSENT = "crm.consent"
FEEDBACK = "crm.feedback"
COMPLAINT = "crm.complaint"
CHURN = "crm.churn"
SCREENING = "crm.screening"
# Messages a consumer could not handle, with the reason in headers (see events.consumer).
DEAD_LETTER = "crm.dead-letter"

ALL = (CUSTOMER, CONSENT, FEEDBACK, COMPLAINT, CHURN, SCREENING, DEAD_LETTER)
