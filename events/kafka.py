"""Kafka client construction in one place, so every component talks to the broker the same way."""

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from events.contracts import topics
from events.contracts.envelope import Envelope

# Latency defaults (also in ComponentSettings and deploy/): the relay hands the producer a whole
# batch at once, so waiting for more (linger) only delays it; and a consumer's fetch is answered
# at the latest after fetch_max_wait_ms even when it covers partitions with nothing new (the
# library's 500 ms default was held in full by the broker, the main part of commit -> effect).
LINGER_MS = 0
FETCH_MAX_WAIT_MS = 20
# Bytes per partition in one produce request (the library's 16 KiB held ~35 events, so a relay
# batch took a broker round trip per 35 events per partition); below the brokers' 1 MiB
# message.max.bytes and the producer's max_request_size.
MAX_BATCH_BYTES = 512 * 1024
# A consumer group member that sends no heartbeat for this long is replaced by a rebalance (the
# library's default). Heartbeats go every third of it, as Kafka advises. Some brokers also hold
# a join for part of it while the group gathers: the local broker answers after half of it.
SESSION_TIMEOUT_MS = 10_000
# How long the producer keeps trying to hand a batch to the broker before it fails the batch:
# the relay then rolls back, counts the unsent backlog (a metric) and retries after a pause.
REQUEST_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Connection:
    """Where the broker is and how to authenticate. Development and tests: plaintext, no user.
    Production (Strimzi): SASL_SSL with a SCRAM-SHA-512 user per component (a KafkaUser whose
    ACLs allow only the component's own topics) and the cluster CA to verify the brokers."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = ""
    ca_file: str = ""  # PEM bundle of the cluster CA; empty: the system's trust store

    def options(self) -> dict:
        options: dict = {"bootstrap_servers": self.bootstrap_servers, "security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(cafile=self.ca_file or None)
        if self.security_protocol.startswith("SASL"):
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return options


# How long a Kafka client may take to stop (`stopped`).
STOP_SECONDS = 2.0


async def stopped(stop: Awaitable[object]) -> None:
    """A Kafka client's stop, bounded: with the broker away, a producer would wait out its request
    timeout to flush what it holds, and a consumer its metadata and fetch requests, and hold up
    the shutdown. Nothing is lost by not waiting: an event counts as sent only once the broker
    acknowledged it (it stays unsent in the outbox), and a consumed event's offset is committed
    only after it was applied (it is delivered again)."""
    # asyncio.timeout, not wait_for: on Python 3.11, wait_for loses a cancellation that arrives as
    # the awaited call finishes, and the cancelled loop around it runs on (a shutdown hangs).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STOP_SECONDS):
            await stop


def _connection(kafka: Connection | str) -> Connection:
    return kafka if isinstance(kafka, Connection) else Connection(kafka)


def producer(
    kafka: Connection | str,
    client_id: str,
    *,
    linger_ms: int = LINGER_MS,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    request_timeout_ms: int = REQUEST_TIMEOUT_MS,
) -> AIOKafkaProducer:
    # acks=all: an event counts as published only once the in-sync replicas have it. The
    # idempotent producer stays off (not every broker we run against supports it); consumers
    # de-duplicate by event id instead, which also covers a relay that re-sends after a crash.
    return AIOKafkaProducer(
        **_connection(kafka).options(),
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=linger_ms,
        max_batch_size=max_batch_bytes,
        request_timeout_ms=request_timeout_ms,
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
    kafka: Connection | str,
    group_id: str | None,
    topic_names: list[str],
    *,
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
    max_poll_records: int | None = 100,
    session_timeout_ms: int = SESSION_TIMEOUT_MS,
    **overrides,
) -> AIOKafkaConsumer:
    options = {
        "group_id": group_id,
        "client_id": group_id or "crm",
        "enable_auto_commit": False,  # offsets are committed only after the effect has committed
        "auto_offset_reset": "earliest",
        "max_poll_records": max_poll_records,
        "fetch_max_wait_ms": fetch_max_wait_ms,
        "session_timeout_ms": session_timeout_ms,
        "heartbeat_interval_ms": session_timeout_ms // 3,
        "retry_backoff_ms": 200,
    } | overrides
    return AIOKafkaConsumer(*topic_names, **_connection(kafka).options(), **options)


def client(kafka: Connection | str, client_id: str) -> AIOKafkaClient:
    return AIOKafkaClient(**_connection(kafka).options(), client_id=client_id)


async def create_topics(bootstrap_servers: str, partitions: int = 3) -> None:
    """Create every topic the platform uses, if missing (dev and tests; production uses Strimzi)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="crm-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name in topics.ALL if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
