"""The AsyncAPI 3.0 description of every topic, generated from the contracts.

    python -m events.contracts.asyncapi > events/contracts/asyncapi.yaml
"""

import sys

import yaml

from events.contracts import topics
from events.contracts import REGISTRY
from events.contracts.envelope import Envelope

TOPIC_DESCRIPTIONS = {
    topics.CUSTOMER: "Customer records: created and changed. Key: customer id.",
    topics.CONSENT: "Data-sharing consents: granted and revoked. Key: customer id.",
    topics.FEEDBACK: "Survey answers (CSAT, NPS, CES). Key: customer id.",
    topics.COMPLAINT: "Customer complaints. Key: customer id.",
    topics.CASE: "Service cases: opened, SLA warnings and escalations, resolved, closed. Key: customer id.",
    topics.CHURN: "Churn warnings for customers crossing into high risk. Key: customer id.",
    topics.RISK_ASSESSMENT: "Risk assessments completed (C1-C5) and re-assessments requested. Key: customer id.",
    topics.SUITABILITY: (
        "Suitability mismatches for relationship managers and recommendation lists made. Key: customer id."
    ),
    topics.COREBANKING_HOLDINGS: (
        "Products opened and closed in core banking, published by the bank's core systems "
        "(example producer: events/examples/publish_holding.py). Key: customer id."
    ),
    topics.SCREENING: "Sanctions/PEP screening hits and clearances, money-laundering risk ratings. Key: customer id.",
    topics.CHURN: "Churn warnings for customers rising a churn band. Key: customer id.",
    topics.COREBANKING_ACTIVITY: (
        "Published by core-banking systems: posted transactions and balance snapshots. Key: customer id. "
        "Producer example: events/examples/corebanking_producer.py."
    ),
    topics.DEAD_LETTER: (
        "Messages a consumer could not handle, unchanged, with headers dlq_reason, "
        "dlq_consumer_group, dlq_topic, dlq_partition and dlq_offset."
    ),
    topics.AUDIT_CHECKPOINTS: (
        "Signed checkpoints of the audit chains' heads (not events: JSON {chain, position, hash, at, "
        "signature}). Key: the chain's identity. Append-only; `crm verify-audit` checks each chain against them."
    ),
}
HEADERS_SCHEMA = {
    "type": "object",
    "properties": {
        "event_id": {"type": "string", "description": "Same as the envelope id; de-duplicate on it."},
        "event_type": {"type": "string"},
        "event_version": {"type": "string"},
        "source": {"type": "string"},
    },
}


def _message_name(name: str, version: int) -> str:
    return f"{name.replace('.', '_')}_v{version}"


def document() -> dict:
    envelope_schema = Envelope.model_json_schema()
    channels: dict = {}
    messages: dict = {}
    schemas: dict = {"Envelope": envelope_schema}
    for (name, version), contract in sorted(REGISTRY.items()):
        message = _message_name(name, version)
        schemas[contract.payload.__name__] = contract.payload.model_json_schema()
        messages[message] = {
            "name": f"{name} v{version}",
            "title": name,
            "summary": contract.description,
            "contentType": "application/json",
            "headers": HEADERS_SCHEMA,
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": name},
                            "version": {"const": version},
                            "payload": {"$ref": f"#/components/schemas/{contract.payload.__name__}"},
                        },
                    },
                ]
            },
        }
        channel = channels.setdefault(
            contract.topic,
            {"address": contract.topic, "description": TOPIC_DESCRIPTIONS[contract.topic], "messages": {}},
        )
        channel["messages"][message] = {"$ref": f"#/components/messages/{message}"}
    for topic in (topics.DEAD_LETTER, topics.AUDIT_CHECKPOINTS):
        channels[topic] = {"address": topic, "description": TOPIC_DESCRIPTIONS[topic], "messages": {}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Bank CRM events",
            "version": "1.0.0",
            "description": (
                "Every event is a JSON envelope keyed by customer id. Payloads carry ids, codes and "
                "categories, never names, identity numbers, contact data or free text. Delivery is at "
                "least once: de-duplicate on the envelope id."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(render())
