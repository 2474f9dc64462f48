"""Kafka topic names. One topic per aggregate keeps one customer's events of that kind in order."""

CUSTOMER = "crm.customer"
CONSENT = "crm.consent"
FEEDBACK = "crm.feedback"
COMPLAINT = "crm.complaint"
CHURN = "crm.churn"
# Messages a consumer could not handle, with the reason in headers (see events.consumer).
DEAD_LETTER = "crm.dead-letter"

ALL = (CUSTOMER, CONSENT, FEEDBACK, COMPLAINT, CHURN, DEAD_LETTER)

# The one component that publishes on each event topic. The outbox refuses to stage an event on
# a topic its component does not own, so this is what the code does; the Kafka ACLs
# (deploy/, KafkaUser per component) and the AsyncAPI send operations are derived from it.
# Every consumer writes to DEAD_LETTER.
PRODUCER = {
    CUSTOMER: "profile",
    CONSENT: "consent",
    FEEDBACK: "feedback",
    COMPLAINT: "feedback",
    CHURN: "churn",
}

# Partitions and retention every environment uses (tests and development create topics with
# them, deploy/ declares them as KafkaTopics, the AsyncAPI bindings state them).
PARTITIONS = {topic: 6 for topic in PRODUCER} | {DEAD_LETTER: 3}
RETENTION_DAYS = {topic: 7 for topic in PRODUCER} | {DEAD_LETTER: 30}


def produced_by(component: str) -> list[str]:
    return [topic for topic, producer in PRODUCER.items() if producer == component]
