"""Kafka client construction in one place, so every component talks to the broker the same way."""

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from events.contracts import topics
from events.contracts.envelope import Envelope


# Latency defaults (also in ComponentSettings and deploy/): the relay hands the producer a whole
# batch at once, so waiting for more (linger) only delays it; and a consumer's fetch is answered
# at the latest after fetch_max_wait_ms even when it covers partitions with nothing new (the
# library's 500 ms default was held in full by the broker, the main part of commit -> effect).
LINGER_MS = 0
FETCH_MAX_WAIT_MS = 20


def producer(bootstrap_servers: str, client_id: str, *, linger_ms: int = LINGER_MS) -> AIOKafkaProducer:
    # acks=all: an event counts as published only once the in-sync replicas have it. The
    # idempotent producer stays off (not every broker we run against supports it); consumers
    # de-duplicate by event id instead, which also covers a relay that re-sends after a crash.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=linger_ms,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


def headers_for(envelope: Envelope) -> list[tuple[str, bytes]]:
    """The Kafka headers every event carries (consumers may de-duplicate on event_id)."""
    return event_headers(str(envelope.id), envelope.type, envelope.version, envelope.source)


def event_headers(event_id: str, event_type: str, version: int | str, source: str) -> list[tuple[str, bytes]]:
    """`headers_for` from the envelope's parts (the relay routes rows without parsing them)."""
    return [
        ("event_id", event_id.encode()),
        ("event_type", event_type.encode()),
        ("event_version", str(version).encode()),
        ("source", source.encode()),
    ]


def consumer(
    bootstrap_servers: str, group_id: str, topic_names: list[str], *, fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
    max_poll_records: int = 100,
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topic_names,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,  # offsets are committed only after the effect has committed
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        fetch_max_wait_ms=fetch_max_wait_ms,
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
