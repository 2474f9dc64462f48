"""Test harness: the real system as separate processes, real databases, a real broker."""

import asyncio
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from events.broker import LocalBroker
from events.contracts import topics
from events.contracts.envelope import Envelope
from services.components import COMPONENTS
from services.kit.clock import now

SERVICES = [c for c in COMPONENTS if c != "gateway"]


# Ports for the servers tests start. A port probed free inside the kernel's ephemeral range
# (net.ipv4.ip_local_port_range) can be taken by any outgoing connection (to PostgreSQL, the broker,
# between components) before its server binds it, and another pytest-xdist worker's probe can be
# offered the same port: either leaves a component unable to bind, and it exits. So ports come from
# below that range, each worker from a slice of its own, and are never handed out twice.
PORTS_PER_WORKER = 1000
_handed_out: set[int] = set()


@functools.cache
def _ephemeral_range_start() -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return 32768  # Linux's default


def _worker_ports() -> range:
    """This process's slice: the ports just below the ephemeral range, one slice per worker."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    end = _ephemeral_range_start() - worker * PORTS_PER_WORKER
    return range(max(end - PORTS_PER_WORKER, 1024), end)


def free_port() -> int:
    """A port of this process's slice, free now and never handed out before by this process."""
    for port in _worker_ports():
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use by something else
        _handed_out.add(port)
        return port
    raise RuntimeError(f"every port of {_worker_ports()} is taken or handed out")


class System:
    """Every component migrated and served on its own port, wired to one broker."""

    # The prefix of its databases' names, set by a fixture that made them for it alone.
    database_prefix: str

    def __init__(
        self,
        *,
        database_urls: dict[str, str],
        bootstrap_servers: str,
        workdir: Path,
        components: list[str] | None = None,
        at_head: bool = False,
    ):
        self.components = components or list(COMPONENTS)
        # Databases copied from migrated templates (tests/databases.py) are at head already: the
        # init step would find nothing to do, at several seconds of start-up per component.
        self.at_head = at_head
        self.database_urls = database_urls
        self.bootstrap_servers = bootstrap_servers
        self.workdir = workdir
        self.ports = {c: free_port() for c in COMPONENTS}
        # Metrics are served on their own port, apart from the API (METRICS_PORT).
        self.metrics_ports = {c: free_port() for c in COMPONENTS}
        self.processes: dict[str, subprocess.Popen] = {}
        self.private_key_file = workdir / "jwt-private.pem"
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "GATEWAY_JWT_PUBLIC_KEY_FILE": str(workdir / "jwt-public.pem"),
            "GATEWAY_JWT_PRIVATE_KEY_FILE": str(self.private_key_file),
            "CRM_ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            # The churn models of this run only (no model promoted: the rules score).
            "CHURN_MODEL_DIR": str(workdir / "churn-models"),
            **{f"{c.upper()}_DATABASE_URL": url for c, url in database_urls.items()},
            # Audit chains anchored often, so tests see checkpoints of what they just did.
            **{f"{c.upper()}_AUDIT_CHECKPOINT_INTERVAL_SECONDS": "0.5" for c in COMPONENTS},
            # Consumer groups formed in 2 s, not 5: the local broker holds a group's join for half
            # the session timeout (and longer after a member left).
            "KAFKA_SESSION_TIMEOUT_MS": "3000",
            # A new list version re-screened within a second, not up to five.
            "PROFILE_SCREENING_JOB_SECONDS": "0.5",
            # Dashboard targets (tests/system/gateway/test_dashboard.py): one met, one not.
            "GATEWAY_KPI_TARGETS": json.dumps(
                {
                    "customers": {
                        "customers": {"value": 1, "better": "higher"},
                        "new_customers": {"value": 5, "better": "higher"},
                    }
                }
            ),
            **{f"GATEWAY_{c.upper()}_URL": self.url(c) for c in SERVICES},
        }

    def url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.ports[component]}"

    def metrics_url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[component]}/metrics"

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        """`crm <args>` with this system's settings; an exit other than 0 fails with its output."""
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", *args], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"crm {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def start(self) -> None:
        if not self.at_head:
            self.migrate()
        for component in self.components:
            self.start_component(component)
        for component in self.components:
            self.wait_ready(component)

    def migrate(self) -> None:
        """`crm migrate all`, as `make run` does (one process: each `crm` start imports every
        component's models); a system of some components migrates those, one after another."""
        targets = ["all"] if set(self.components) == set(COMPONENTS) else self.components
        for target in targets:
            self.run_cli("migrate", target)

    def start_component(self, component: str) -> None:
        log = open(self.workdir / f"{component}.log", "ab")
        self.processes[component] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", component, "--port", str(self.ports[component])],
            env={**self.env, "METRICS_PORT": str(self.metrics_ports[component])},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop_component(self, component: str) -> None:
        process = self.processes.pop(component)
        process.terminate()
        process.wait(15)

    def restart_component(self, component: str, **env: str) -> None:
        """Restart one component, e.g. with changed settings, and wait until it is ready."""
        self.env.update(env)
        self.stop_component(component)
        self.start_component(component)
        self.wait_ready(component)

    def wait_ready(self, component: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[component].poll() is not None:
                raise RuntimeError(f"{component} exited:\n{self.log_tail(component)}")
            try:
                if httpx.get(f"{self.url(component)}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # a refused or answered /readyz costs next to nothing
        raise RuntimeError(f"{component} not ready within {timeout}s:\n{self.log_tail(component)}")

    def log_tail(self, component: str, lines: int = 40) -> str:
        """The end of a component's log, for a failure's message: CI keeps the output, not the files."""
        log = self.workdir / f"{component}.log"
        if not log.exists():
            return f"({log} was never written)"
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join([f"(the last {len(tail)} lines of {log})", *tail])

    def stop(self) -> None:
        # All asked to stop at once; each shuts down gracefully in parallel with the others.
        for process in self.processes.values():
            process.terminate()
        for component in list(self.processes):
            self.processes.pop(component).wait(15)

    def token(self, role: str, subject: str | None = None) -> str:
        from gateway.auth import sign_token

        return sign_token(self.private_key_file, role=role, subject=subject or f"user-{role}")

    def headers(self, role: str, subject: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject)}", **extra}


async def records_so_far(
    bootstrap_servers: str, topic_names: list[str], *, timeout: float = 10.0
) -> list[ConsumerRecord]:
    """Every record on `topic_names` up to (at least) the end offsets they have when asked: read
    to the end, not until a quiet spell (which costs its whole length on every read)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # metadata of every topic, for their partitions
        partitions = [
            TopicPartition(topic, partition)
            for topic in topic_names
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        unread = {p for p in partitions if ends[p] > 0}
        found: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while unread:
            if time.monotonic() > deadline:
                raise AssertionError(f"topics not read to their end within {timeout}s: {sorted(map(str, unread))}")
            batch = await consumer.getmany(*unread, timeout_ms=200)
            # Kept whole, even past the end offset: the local broker reports a partition's end as
            # the start of its last batch plus one, and a batch arrives whole.
            for records in batch.values():
                found.extend(records)
            unread = {p for p in unread if await consumer.position(p) < ends[p]}
        return found
    finally:
        await consumer.stop()


class KafkaProbe:
    """Reads and writes topics the way another bank system would."""

    def __init__(self, bootstrap_servers: str):
        self.bootstrap_servers = bootstrap_servers

    async def read_all(self, topic: str, *, timeout: float = 10.0) -> list[tuple[Envelope | bytes, dict]]:
        """Every record on `topic` published so far (up to its end offsets when asked)."""
        found: list[tuple[Envelope | bytes, dict]] = []
        for record in await records_so_far(self.bootstrap_servers, [topic], timeout=timeout):
            headers = {k: v.decode() for k, v in record.headers or []}
            # Not a real header: the record key, so tests can check it beside the envelope.
            headers["key"] = record.key.decode() if record.key is not None else None
            try:
                found.append((Envelope.model_validate_json(record.value), headers))
            except ValueError:
                found.append((record.value, headers))
        return found

    async def wait_for(
        self, topic: str, predicate: Callable[[Envelope, dict], bool], *, count: int = 1, timeout: float = 20.0
    ) -> list[tuple[Envelope, dict]]:
        """Envelopes on `topic` matching `predicate`, once at least `count` are there."""
        deadline = time.monotonic() + timeout
        matches: list = []
        while time.monotonic() < deadline:
            records = await self.read_all(topic)
            matches = [(e, h) for e, h in records if isinstance(e, Envelope) and predicate(e, h)]
            if len(matches) >= count:
                return matches
            await asyncio.sleep(0.2)
        raise AssertionError(f"{len(matches)} of {count} expected events on {topic} within {timeout}s")

    async def drained(self, topic: str, event_type: str, customer_id: str, group: str) -> None:
        """Wait until consumer `group` has handled everything published so far on `topic` for
        `customer_id`: a marker with no contract (version 99), keyed like the customer's events
        and so behind them in their partition, must reach the dead-letter topic."""
        marker = Envelope(
            id=uuid.uuid4(), type=event_type, version=99, source="test", time=now(), customer_id=customer_id, payload={}
        )
        await self.publish(topic, marker.model_dump_json().encode(), key=customer_id)
        await self.wait_for(topics.DEAD_LETTER, lambda e, h: e.id == marker.id and h.get("dlq_consumer_group") == group)

    async def publish(self, topic: str, value: bytes, *, key: str | None = None, headers: list | None = None) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, enable_idempotence=False)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=value, key=key.encode() if key else None, headers=headers or [])
        finally:
            await producer.stop()


@contextlib.contextmanager
def system_of_its_own(
    workdir: Path, name: str, components: list[str] | None = None, **env: str
) -> Iterator[tuple[System, LocalBroker]]:
    """A system with a broker and databases of its own (`<prefix>_<name>`), for a test module that
    stops the broker or runs with other settings (`env`) than the session's system."""
    from tests import databases

    broker = LocalBroker(free_port())
    broker.start()
    prefix = f"{databases.PREFIX}_{name}"
    urls = asyncio.run(databases.migrated(prefix=prefix, components=components))
    running = System(
        database_urls=urls,
        bootstrap_servers=broker.bootstrap_servers,
        workdir=workdir,
        components=components,
        at_head=True,
    )
    running.database_prefix = prefix
    running.env.update(env)
    try:
        running.start()
        yield running, broker
    finally:
        running.stop()
        broker.stop()


async def eventually(check: Callable, *, timeout: float = 20.0, interval: float = 0.1):
    """Retry `check` (sync or async) until it stops raising AssertionError; returns its result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(interval)


def new_customer(**overrides) -> dict:
    """A valid customer body with unique identifiers."""
    digits = str(uuid.uuid4().int)[:18]
    body = {
        "name": "Wang Fang",
        "national_id": "11" + digits[:16],
        "phone": "138" + digits[:8],
        "email": f"wang.{digits[:6]}@example.com",
        "birth_date": "1985-06-15",
        "address": "8 Jianguo Road, Beijing",
        "assets_under_management": "250000.00",
    }
    body.update(overrides)
    return body


def marketing_consent(customer_id: str, **overrides) -> dict:
    """A body for POST /api/v1/consents: the customer agrees to the bank's own marketing."""
    body = {
        "customer_id": customer_id,
        "recipient": "bank-marketing",
        "purpose": "marketing",
        "data_categories": ["basic", "risk"],
        "channel": "mobile",
    }
    body.update(overrides)
    return body


class AsyncApiConformance:
    """Checks records on the broker against events/contracts/asyncapi.yaml, as another bank
    system reading the file would: the channel lists the message, the envelope matches its
    schema, the headers match the headers schema, the key is the customer id."""

    def __init__(self):
        import jsonschema
        import yaml

        from events.contracts import asyncapi

        self.document = yaml.load(
            (Path(asyncapi.__file__).parent / "asyncapi.yaml").read_text(), Loader=yaml.CSafeLoader
        )
        self._jsonschema = jsonschema

    def _validate(self, pointer: str, instance) -> None:
        schema = {**self.document, "$ref": pointer}
        self._jsonschema.Draft202012Validator(schema).validate(instance)

    def check(self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> str | None:
        """Validates one record published by a component; returns its message name, or None for
        a record a test injected itself (no `source` header naming a component)."""
        named = {k: v.decode() for k, v in headers}
        channel = self.document["channels"][topic]
        if topic == topics.DEAD_LETTER:
            self._validate("#/components/messages/dead_letter/headers", named)
            return "dead_letter"
        if named.get("source") not in COMPONENTS:
            return None
        envelope = json.loads(value)
        message = f"{envelope['type'].replace('.', '_')}_v{envelope['version']}"
        assert message in channel["messages"], f"{message} is not documented on {topic}"
        self._validate(f"#/components/messages/{message}/payload", envelope)
        self._validate(f"#/components/messages/{message}/headers", named)
        assert key is not None and key.decode() == envelope["customer_id"], "the key is the customer id"
        return message

    async def check_broker(self, bootstrap_servers: str) -> dict[str, int]:
        """Every record on every documented topic; returns how many of each message were checked."""
        seen: dict[str, int] = {}
        for record in await records_so_far(bootstrap_servers, list(self.document["channels"])):
            name = self.check(record.topic, record.key, record.value, list(record.headers or []))
            if name:
                seen[name] = seen.get(name, 0) + 1
        return seen


async def onboard_through_gateway(client: httpx.AsyncClient, system: System, manager: str) -> str:
    """A manager creates a customer, who then consents to marketing and files a complaint: a
    write on profile, consent and feedback, each with an event. Returns the customer id."""
    gateway = system.url("gateway")
    created = await client.post(
        f"{gateway}/api/v1/customers", json=new_customer(), headers=system.headers("relationship_manager", manager)
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    me = system.headers("customer", customer_id)
    # Consent and feedback learn of the customer from profile's event, which may be on its way.
    consent = await once_customer_known(
        lambda: client.post(f"{gateway}/api/v1/consents", json=marketing_consent(customer_id), headers=me)
    )
    assert consent.status_code == 201, consent.text
    complaint = await once_customer_known(
        lambda: client.post(
            f"{gateway}/api/v1/complaints",
            json={"customer_id": customer_id, "category": "service", "channel": "web", "description": "slow"},
            headers=me,
        )
    )
    assert complaint.status_code == 201, complaint.text
    return customer_id


def customer_created(customer_id: str) -> Envelope:
    """The event by which every service learns that a customer exists, as profile publishes it."""
    from decimal import Decimal

    from events.contracts import CustomerCreatedV1, new_event

    payload = CustomerCreatedV1(customer_id=customer_id, risk_level="C3", assets_under_management=Decimal("0"))
    return new_event("customer.created", payload, source="profile")


async def introduce_customer(kafka: "KafkaProbe", customer_id: str) -> None:
    """Publish `customer.created` for an id no profile service created (component tests)."""
    await kafka.publish(topics.CUSTOMER, customer_created(customer_id).model_dump_json().encode(), key=customer_id)


async def once_customer_known(call: Callable, *, timeout: float = 20.0):
    """Retry `call()` (an HTTP request) while the service answers that it does not know the
    customer yet: it learns customers from events, which may still be on their way."""

    async def attempt():
        response = await call()
        unknown = response.status_code == 404 and response.json().get("detail") == "No customer has this id."
        assert not unknown, "the service has not learnt of the customer yet"
        return response

    return await eventually(attempt, timeout=timeout)


@functools.cache
def openapi_document(component: str) -> dict:
    """The OpenAPI document of a component's own app, built once per test process (several unit
    tests read every component's document; building one app costs more than reading it)."""
    from services.components import spec_of
    from services.kit.app import build_app

    return build_app(spec_of(component), background=False).openapi()


def served_routes(app) -> dict[tuple[str, str], Any]:
    """(method, route template) -> the FastAPI route of every one the app serves, its included
    routers' too (listed as the FastAPI instrumentation lists them for its spans)."""
    from fastapi.routing import APIRoute

    from services.kit.observability import fastapi_instrumentation

    return {
        (method, listed.path): listed.route
        for listed in fastapi_instrumentation()._flatten_routes(app.routes)
        if isinstance(listed.route, APIRoute)
        for method in listed.methods
    }
