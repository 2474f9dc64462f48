"""Kafka client construction in one place, so every component talks to the broker the same way."""

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from events.contracts import topics
from events.contracts.envelope import Envelope


def producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    # acks=all: an event counts as published only once the in-sync replicas have it. The
    # idempotent producer stays off (not every broker we run against supports it); consumers
    # de-duplicate by event id instead, which also covers a relay that re-sends after a crash.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


def headers_for(envelope: Envelope) -> list[tuple[str, bytes]]:
    """The Kafka headers every event carries (consumers may de-duplicate on event_id)."""
    return [
        ("event_id", str(envelope.id).encode()),
        ("event_type", envelope.type.encode()),
        ("event_version", str(envelope.version).encode()),
        ("source", envelope.source.encode()),
    ]


def consumer(bootstrap_servers: str, group_id: str, topic_names: list[str]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topic_names,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,  # offsets are committed only after the effect has committed
        auto_offset_reset="earliest",
        max_poll_records=100,
        retry_backoff_ms=200,
    )


async def create_topics(bootstrap_servers: str, partitions: int = 3) -> None:
    """Create every topic the platform uses, if missing (dev and tests; production uses Strimzi)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="crm-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name in topics.ALL if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
