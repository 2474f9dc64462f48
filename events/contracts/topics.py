"""Kafka topic names. One topic per aggregate keeps one customer's events of that kind in order."""

CUSTOMER = "crm.customer"
CONSENT = "crm.consent"
FEEDBACK = "crm.feedback"
COMPLAINT = "crm.complaint"
CASE = "crm.case"
# Survey invitations for the bank's messaging system to deliver (they carry the answer link's
# one-time token: a topic of their own, so that no other reader of survey answers sees it).
SURVEY_INVITATIONS = "crm.survey-invitations"
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
    CUSTOMER,
    CONSENT,
    FEEDBACK,
    COMPLAINT,
    CASE,
    SURVEY_INVITATIONS,
    CHURN,
    RISK_ASSESSMENT,
    SUITABILITY,
    COREBANKING_HOLDINGS,
    SCREENING,
    COREBANKING_ACTIVITY,
    AUDIT_CHECKPOINTS,
    DEAD_LETTER,
)

# The one component that publishes on each event topic. The outbox refuses to stage an event on
# a topic its component does not own, so this is what the code does; the Kafka ACLs
# (deploy/, KafkaUser per component) and the AsyncAPI send operations are derived from it.
# Every consumer writes to DEAD_LETTER.
PRODUCER = {
    CUSTOMER: "profile",
    CONSENT: "consent",
    FEEDBACK: "feedback",
    COMPLAINT: "feedback",
    CASE: "feedback",
    SURVEY_INVITATIONS: "feedback",
    CHURN: "churn",
    RISK_ASSESSMENT: "recommendation",
    SUITABILITY: "recommendation",
    SCREENING: "profile",
}

# Event topics the bank's core systems publish; no platform component writes to them.
EXTERNAL = {COREBANKING_HOLDINGS: "core banking", COREBANKING_ACTIVITY: "core banking"}

# Topics several components write to directly (not through an outbox): each component that keeps
# an audit chain (ServiceSpec.audit) appends its checkpoints, keyed by chain.
SHARED = {AUDIT_CHECKPOINTS: ("profile", "consent", "recommendation", "gateway")}

# Partitions and retention every environment uses (tests and development create topics with
# them, deploy/ declares them as KafkaTopics, the AsyncAPI bindings state them).
PARTITIONS = {topic: 6 for topic in (*PRODUCER, *EXTERNAL)} | {AUDIT_CHECKPOINTS: 1, DEAD_LETTER: 3}
RETENTION_DAYS = {topic: 7 for topic in (*PRODUCER, *EXTERNAL)} | {AUDIT_CHECKPOINTS: 3650, DEAD_LETTER: 30}


def producers_of(topic: str) -> tuple[str, ...]:
    """The platform components that write to `topic` (empty for the core systems' topics)."""
    if topic in PRODUCER:
        return (PRODUCER[topic],)
    return SHARED.get(topic, ())


def produced_by(component: str) -> list[str]:
    """The event topics `component` publishes through its outbox."""
    return [topic for topic, producer in PRODUCER.items() if producer == component]
