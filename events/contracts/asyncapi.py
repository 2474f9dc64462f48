"""The AsyncAPI 3.0 description of the event backbone, generated from the code.

    python -m events.contracts.asyncapi > events/contracts/asyncapi.yaml

Channels and messages come from the contracts (events.contracts), topic settings from
events.contracts.topics, and the send and receive operations of each component from its
ServiceSpec (what its outbox publishes, what its consumers handle), so the file cannot drift
from what the services do; tests check both the file and the events the running system
publishes against it.
"""

import sys
from typing import Any

import yaml
from pydantic import BaseModel

from events.contracts import REGISTRY, topics
from events.contracts.envelope import Envelope

BINDING_VERSION = "0.5.0"
SCHEMAS = "#/components/schemas/"
DAY_MS = 24 * 3600 * 1000

TOPIC_SUBJECTS = {
    topics.CUSTOMER: "Customer records",
    topics.CONSENT: "Data-sharing consents and consent requests",
    topics.FEEDBACK: "Survey answers (CSAT, NPS, CES)",
    topics.COMPLAINT: "Customer complaints",
    topics.CASE: "Service cases: opened, SLA warnings and escalations, resolved, closed",
    topics.SURVEY_INVITATIONS: "Survey invitations to deliver, with their one-time answer tokens",
    topics.CHURN: "Churn warnings for customers rising a churn band",
    topics.RISK_ASSESSMENT: "Risk assessments completed (C1-C5) and re-assessments requested",
    topics.SUITABILITY: "Suitability mismatches for relationship managers and recommendation lists made",
    topics.SCREENING: "Sanctions/PEP screening hits and clearances, money-laundering risk ratings",
    topics.COREBANKING_HOLDINGS: "Products opened and closed in core banking",
    topics.COREBANKING_ACTIVITY: "Posted transactions and balance snapshots",
}
# Where the bank's core systems find an example of publishing on their topics.
EXTERNAL_EXAMPLES = {
    topics.COREBANKING_HOLDINGS: "events/examples/publish_holding.py",
    topics.COREBANKING_ACTIVITY: "events/examples/corebanking_producer.py",
}
HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_id", "event_type", "event_version", "source"],
    "properties": {
        "event_id": {"type": "string", "description": "Same as the envelope id; de-duplicate on it."},
        "event_type": {"type": "string"},
        "event_version": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        "source": {"type": "string", "description": "The component that published the event."},
        "traceparent": {
            "type": "string",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "description": "W3C trace context of the publication; continue the trace from it.",
        },
    },
}
DEAD_LETTER_HEADERS = {
    "type": "object",
    "required": ["dlq_reason", "dlq_consumer_group", "dlq_topic", "dlq_partition", "dlq_offset"],
    "properties": {
        **HEADERS_SCHEMA["properties"],
        "dlq_reason": {"type": "string", "description": "Why the message could not be handled (no payload values)."},
        "dlq_consumer_group": {"type": "string", "description": "The consumer group that gave up on it."},
        "dlq_topic": {"type": "string", "description": "Where it was read."},
        "dlq_partition": {"type": "string", "pattern": "^[0-9]+$"},
        "dlq_offset": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "description": "The original headers (if any), plus the dlq_* headers.",
}
KEY_BINDING = {
    "kafka": {
        "key": {
            "type": "string",
            "description": "The customer id: one customer's events stay in order on one partition.",
        },
        "bindingVersion": BINDING_VERSION,
    }
}


def _message_name(name: str, version: int) -> str:
    return f"{name.replace('.', '_')}_v{version}"


def _channel_description(topic: str) -> str:
    if topic == topics.DEAD_LETTER:
        return (
            "Messages a consumer could not handle (not an envelope, no contract, invalid payload, "
            "or a handler that rejected it or kept failing), unchanged in key and value, with the "
            "original headers plus dlq_reason, dlq_consumer_group, dlq_topic, dlq_partition and "
            "dlq_offset. Written by every consuming component."
        )
    if topic == topics.AUDIT_CHECKPOINTS:
        return (
            "Signed checkpoints of the audit chains' heads (not events: JSON {chain, position, hash, at, "
            "signature}). Key: the chain's identity. Append-only; `crm verify-audit` checks each chain "
            f"against them. Written by {', '.join(f'`{c}`' for c in topics.producers_of(topic))}."
        )
    types = sorted({t.name for t in REGISTRY.values() if t.topic == topic})
    if topic in topics.EXTERNAL:
        producer = f"{topics.EXTERNAL[topic]} systems (example producer: {EXTERNAL_EXAMPLES[topic]})"
    else:
        producer = f"`{topics.PRODUCER[topic]}`"
    return f"{TOPIC_SUBJECTS[topic]}: {', '.join(f'`{t}`' for t in types)}. Published by {producer}. Key: customer id."


def _channel(topic: str) -> dict:
    return {
        "address": topic,
        "description": _channel_description(topic),
        "messages": {},
        "bindings": {
            "kafka": {
                "topic": topic,
                "partitions": topics.PARTITIONS[topic],
                "topicConfiguration": {
                    "cleanup.policy": ["delete"],
                    "retention.ms": topics.RETENTION_DAYS[topic] * DAY_MS,
                },
                "bindingVersion": BINDING_VERSION,
            }
        },
    }


def _components() -> dict:
    """Component -> (KafkaAccess, event types its consumers handle), from the ServiceSpecs."""
    from services.components import COMPONENTS, spec_of  # the composition root knows the components

    found = {}
    for component in COMPONENTS:
        spec = spec_of(component)
        found[component] = (spec.kafka_access(), set(spec.handlers))
    return found


def _operations(channels: dict, components: dict) -> dict:
    operations: dict = {}
    for component, (access, handled) in sorted(components.items()):
        for topic in access.writes:
            refs = list(channels[topic]["messages"])
            if topic not in (topics.DEAD_LETTER, topics.AUDIT_CHECKPOINTS):
                refs = [m for m in refs if REGISTRY_BY_MESSAGE[m].topic == topic]
            operations[f"{component}_sends_{topic.replace('.', '_').replace('-', '_')}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{topic}"},
                "summary": f"{component} publishes on {topic}"
                + {
                    topics.DEAD_LETTER: " what it could not handle",
                    topics.AUDIT_CHECKPOINTS: " the signed heads of its audit chain",
                }.get(topic, " from its transactional outbox"),
                "messages": [{"$ref": f"#/channels/{topic}/messages/{m}"} for m in refs],
            }
        for topic in access.reads:
            if topic == topics.AUDIT_CHECKPOINTS:
                operations[f"{component}_receives_{topic.replace('.', '_').replace('-', '_')}"] = {
                    "action": "receive",
                    "channel": {"$ref": f"#/channels/{topic}"},
                    "summary": f"{component} reads back its audit checkpoints (`crm verify-audit`, no consumer group)",
                    "messages": [{"$ref": f"#/channels/{topic}/messages/{m}"} for m in channels[topic]["messages"]],
                }
                continue
            followed = topic in access.follows
            if followed:
                how = " in every replica (no consumer group), to keep its cache current"
            elif access.group:
                how = f" in consumer group `{access.group}`"
            else:
                how = " in every replica (no consumer group)"
            refs = [
                m
                for m in channels[topic]["messages"]
                if followed or not handled or REGISTRY_BY_MESSAGE[m].name in handled
            ]
            operation = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{topic}"},
                "summary": f"{component} consumes {topic}{how}",
                "messages": [{"$ref": f"#/channels/{topic}/messages/{m}"} for m in refs],
            }
            if access.group and not followed:
                operation["bindings"] = {
                    "kafka": {"groupId": {"type": "string", "enum": [access.group]}, "bindingVersion": BINDING_VERSION}
                }
            operations[f"{component}_receives_{topic.replace('.', '_').replace('-', '_')}"] = operation
    return operations


REGISTRY_BY_MESSAGE = {_message_name(n, v): t for (n, v), t in REGISTRY.items()}


def _schema(model: type[BaseModel], schemas: dict) -> dict:
    """The model's JSON schema; the types it shares with other payloads (the domain terms) go to
    components/schemas once, referred to by name."""
    schema = model.model_json_schema(ref_template=f"{SCHEMAS}{{model}}")
    schemas.update(schema.pop("$defs", {}))
    return schema


def document(components: dict | None = None) -> dict:
    envelope_schema = Envelope.model_json_schema()
    channels: dict = {topic: _channel(topic) for topic in topics.ALL}
    messages: dict = {}
    schemas: dict = {"Envelope": envelope_schema}
    for (name, version), contract in sorted(REGISTRY.items()):
        message = _message_name(name, version)
        schemas[contract.payload.__name__] = _schema(contract.payload, schemas)
        messages[message] = {
            "name": f"{name} v{version}",
            "title": name,
            "summary": contract.description,
            "contentType": "application/json",
            "headers": HEADERS_SCHEMA,
            "bindings": KEY_BINDING,
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
        channels[contract.topic]["messages"][message] = {"$ref": f"#/components/messages/{message}"}
    messages["dead_letter"] = {
        "name": "dead letter",
        "title": "A message a consumer could not handle",
        "summary": "The original record, unchanged, with the reason in headers.",
        "contentType": "application/octet-stream",
        "headers": DEAD_LETTER_HEADERS,
        "bindings": {
            "kafka": {"key": {"type": "string", "description": "The original key."}, "bindingVersion": BINDING_VERSION}
        },
        "payload": {"description": "The original value, byte for byte (usually, but not always, an event envelope)."},
    }
    channels[topics.DEAD_LETTER]["messages"]["dead_letter"] = {"$ref": "#/components/messages/dead_letter"}
    messages["audit_checkpoint"] = {
        "name": "audit checkpoint",
        "title": "The signed head of one audit chain",
        "summary": "Position and hash of a chain's newest sealed row, signed with the chain's key.",
        "contentType": "application/json",
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The chain's identity."},
                "bindingVersion": BINDING_VERSION,
            }
        },
        "payload": {
            "type": "object",
            "required": ["chain", "position", "hash", "at", "signature"],
            "properties": {
                "chain": {"type": "string"},
                "position": {"type": "integer", "minimum": 1},
                "hash": {"type": "string"},
                "at": {"type": "string"},
                "signature": {"type": "string"},
            },
        },
    }
    channels[topics.AUDIT_CHECKPOINTS]["messages"]["audit_checkpoint"] = {
        "$ref": "#/components/messages/audit_checkpoint"
    }
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
        "servers": {
            "production": {
                "host": "crm-kafka-kafka-bootstrap.kafka:9093",
                "protocol": "kafka-secure",
                "description": "Strimzi TLS listener; one SCRAM-SHA-512 user per component, ACLs per topic.",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
                "bindings": {"kafka": {"bindingVersion": BINDING_VERSION}},
            },
            "development": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local broker of `make run` and the tests (plaintext, no users).",
            },
        },
        "channels": channels,
        "operations": _operations(channels, components if components is not None else _components()),
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {"scram": {"type": "scramSha512", "description": "SASL/SCRAM-SHA-512 over TLS."}},
        },
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(render())
