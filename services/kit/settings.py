"""Settings shared by every component; each component subclasses with its own env prefix."""

import base64
import json
import os
import tempfile
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events import kafka, outbox
from gateway.policy import POLICY_FILE

# Local state for the embedded default (SQLite files, dev signing key) lives here, outside git.
DEV_DIR = Path(__file__).resolve().parents[2] / ".dev"


def create_once(path: Path, content: bytes) -> bytes:
    """What `path` holds, writing `content` (owner-only) first if nothing is there yet.

    Processes starting together (the services under `make run`, test workers) may each generate a
    local key: the first to link its file in wins and the others read the winner's, so no process
    ever seals data under a key the others do not share."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
        try:
            with os.fdopen(descriptor, "wb") as staged_file:
                staged_file.write(content)
            os.link(staged, path)  # atomic, and refuses to replace a file another process linked first
        except FileExistsError:
            pass
        finally:
            os.unlink(staged)
    return path.read_bytes()


def secret_or_development(value: str, *, setting: str, environment: str, dev_name: str) -> str:
    """`value` (a base64 key of at least 256 bits) if set; in development, a local random key
    generated once under .dev/ (never committed); anywhere else, a refusal to start."""
    if not value:
        if environment != "development":
            raise ValueError(f"{setting} must be set outside development")
        value = create_once(DEV_DIR / f"{dev_name}.key", base64.b64encode(os.urandom(32))).decode().strip()
    if len(base64.b64decode(value)) < 32:
        raise ValueError(f"{setting} must be at least 32 bytes, base64-encoded")
    return value


SERVICE_IDENTITY_KEY_SETTING = "CRM_SERVICE_IDENTITY_KEY"


def resolve_service_identity_key(value: str, environment: str) -> str:
    """The key the gateway signs caller credentials with and services verify them with."""
    return secret_or_development(
        value, setting=SERVICE_IDENTITY_KEY_SETTING, environment=environment, dev_name="service-identity"
    )


class ComponentSettings(BaseSettings):
    """Base for a component's settings. Subclasses set `env_prefix` (e.g. ``PROFILE_``)."""

    model_config = SettingsConfigDict(extra="ignore")

    # Empty means the embedded default: a SQLite file under .dev/ named after the component.
    database_url: str = ""
    # Roles as the gateway names them, scoping what a caller sees in every service: roles that see
    # only the customers assigned to them (R4.1 relationship managers), and roles acting for one
    # customer (their id is the caller id), who see no other customer's items or figures.
    assigned_only_roles: list[str] = ["relationship_manager"]
    self_scoped_roles: list[str] = ["customer"]
    # Shared by every component, hence no prefix.
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"),
    )
    # How to reach the broker securely (production: SASL_SSL with the component's KafkaUser).
    kafka_security_protocol: str = Field(default="PLAINTEXT", validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL"))
    kafka_sasl_mechanism: str = Field(default="SCRAM-SHA-512", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM"))
    kafka_username: str = Field(default="", validation_alias=AliasChoices("KAFKA_USERNAME"))
    kafka_password: str = Field(default="", validation_alias=AliasChoices("KAFKA_PASSWORD"))
    kafka_ca_file: str = Field(default="", validation_alias=AliasChoices("KAFKA_CA_FILE"))
    environment: str = Field(default="development", validation_alias=AliasChoices("CRM_ENVIRONMENT"))
    # Traces: OTLP/gRPC collector address (empty: no export) and, for tests and drills, a folder
    # where each process writes its spans as JSON lines.
    otlp_endpoint: str = Field(default="", validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"))
    trace_dir: str = Field(default="", validation_alias=AliasChoices("CRM_TRACE_DIR"))
    # Shared by the gateway (signs caller credentials) and every service (verifies them):
    # services/kit/identity.py. Base64, at least 256 bits; from a KMS-backed secret in production.
    # Needed by the serving processes only (resolved when the app is built), not by migrations.
    service_identity_key: str = Field(default="", validation_alias=AliasChoices(SERVICE_IDENTITY_KEY_SETTING))
    # The access policy: which role may call which route (the gateway enforces it for every
    # call, each service again for its own routes: services/kit/access.py). One file for all.
    access_policy_file: Path = Field(
        default=POLICY_FILE,
        validation_alias=AliasChoices("CRM_ACCESS_POLICY_FILE"),
    )
    log_level: str = "INFO"
    # How often the outbox relay looks for unsent events when nothing woke it (seconds).
    outbox_poll_interval: float = 0.2
    # Days published outbox rows and inbox rows are kept: longer than the topics keep messages
    # (7 days, deploy/), so no redelivery outlives the inbox row that de-duplicates it.
    messaging_retention_days: float = 14
    # Days each data category is kept (JSON over services.kit.retention.DEFAULT_RETENTION_DAYS).
    retention_days: dict[str, int] = {}
    # Prometheus metrics on their own port (unset: none), never on the API port.
    metrics_port: int | None = Field(default=None, validation_alias=AliasChoices("METRICS_PORT"))
    # HTTP server (crm serve): idle keep-alive connections closed after this many seconds;
    # beyond this many open connections, new ones answer 503.
    http_keep_alive_seconds: int = 5
    http_max_connections: int = 1000
    # Events per relay transaction (one read, one batch to the broker, one update).
    outbox_batch_size: int = outbox.RELAY_BATCH_SIZE
    # While batches are full, the unsent backlog (a metric) is counted at most this often.
    outbox_backlog_interval_seconds: float = 5.0

    # Event delivery latency (events/kafka.py), shared by every component hence no prefix. The
    # relay gives the producer whole batches, so it need not linger; the consumer's fetch is
    # answered after at most this wait when nothing new arrived on some partition it covers.
    kafka_linger_ms: int = Field(default=kafka.LINGER_MS, validation_alias=AliasChoices("KAFKA_LINGER_MS"))
    # Bytes per partition in one produce request: a relay batch goes in a few round trips.
    kafka_max_batch_bytes: int = Field(
        default=kafka.MAX_BATCH_BYTES, validation_alias=AliasChoices("KAFKA_MAX_BATCH_BYTES")
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=kafka.FETCH_MAX_WAIT_MS, validation_alias=AliasChoices("KAFKA_FETCH_MAX_WAIT_MS")
    )
    # How long a produce request may go unanswered before the relay retries its batch.
    kafka_request_timeout_ms: int = Field(
        default=kafka.REQUEST_TIMEOUT_MS, ge=1000, validation_alias=AliasChoices("KAFKA_REQUEST_TIMEOUT_MS")
    )
    kafka_max_poll_records: int = Field(default=100, validation_alias=AliasChoices("KAFKA_MAX_POLL_RECORDS"))
    # How soon a consumer that stopped answering is replaced in its group (events/kafka.py).
    kafka_session_timeout_ms: int = Field(
        default=kafka.SESSION_TIMEOUT_MS, ge=1000, validation_alias=AliasChoices("KAFKA_SESSION_TIMEOUT_MS")
    )
    # How often each component asks whether the broker answers (the crm_broker_reachable metric,
    # alerted on): an outage shows within this many seconds, plus the probe's own 3 s timeout.
    kafka_probe_interval_seconds: float = Field(
        default=15.0, gt=0, validation_alias=AliasChoices("KAFKA_PROBE_INTERVAL_SECONDS")
    )

    # PostgreSQL pool per process: requests plus the background loops (relay, consumer, audit
    # sealer, jobs). Sized so steady load stays inside the pool: overflow connections are opened
    # and closed per burst, which costs a new backend each time.
    db_pool_size: int = 20
    db_max_overflow: int = 10
    # Connections older than this are replaced at checkout (instead of a ping on every checkout).
    db_pool_recycle_seconds: float = 1800.0
    # How long a request waits for a free connection before failing (503).
    db_pool_timeout_seconds: float = 10.0

    # Audit trail (components that keep one, services/kit/audit.py). The chain's HMAC key (base64,
    # at least 256 bits), from a KMS-backed secret in production; generated under .dev/ otherwise.
    audit_key: str = ""
    # The sealer waits this long after a write so that a burst is sealed as one batch...
    audit_seal_delay_seconds: float = 0.2
    # ...and looks for rows other replicas wrote at least this often.
    audit_poll_interval_seconds: float = 1.0
    # How often the chain head is checkpointed to crm.audit-checkpoints (when it moved).
    audit_checkpoint_interval_seconds: float = 60.0
    # How often the audit chain (where the component keeps one) is verified in the background.
    audit_verify_interval: float = 3600.0

    def component_name(self) -> str:
        return self.model_config.get("env_prefix", "").rstrip("_").lower()

    @model_validator(mode="after")
    def _retention(self):
        from services.kit.retention import retention_policy

        self.retention_days = retention_policy(self.retention_days)
        return self

    @model_validator(mode="after")
    def _default_database(self):
        if not self.database_url:
            if self.environment != "development":
                raise ValueError(f"{self.component_name().upper()}_DATABASE_URL must be set outside development")
            DEV_DIR.mkdir(exist_ok=True)
            self.database_url = f"sqlite+aiosqlite:///{DEV_DIR / (self.component_name() + '.db')}"
        return self

    @model_validator(mode="after")
    def _secure_broker(self):
        if self.environment == "production" and self.kafka_security_protocol != "SASL_SSL":
            raise ValueError("KAFKA_SECURITY_PROTOCOL must be SASL_SSL in production (a KafkaUser per component)")
        return self

    def kafka(self):
        from events.kafka import Connection

        return Connection(
            self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_username,
            password=self.kafka_password,
            ca_file=self.kafka_ca_file,
        )

    def audit_chain_key(self) -> bytes:
        prefix = self.component_name().upper()
        return base64.b64decode(
            secret_or_development(
                self.audit_key,
                setting=f"{prefix}_AUDIT_KEY",
                environment=self.environment,
                dev_name=f"{self.component_name()}-audit",
            )
        )

    def audit_chain_id(self) -> str:
        """The chain's identity in its checkpoints: the component and the database it lives in
        (from configuration, which the database's own users cannot rewrite)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        where = url.database if url.get_backend_name() == "sqlite" else f"{url.host}:{url.port or 5432}/{url.database}"
        return f"{self.component_name()}@{where}"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


class EncryptionSettings(ComponentSettings):
    """For components that encrypt fields at rest (services/kit/crypto.py)."""

    # Field encryption keys: key id -> base64 256-bit key (JSON), from a KMS-backed secret in
    # production. Keep retired keys here until a rotation has re-encrypted their values.
    encryption_keys: dict[str, str] = {}
    active_key_id: str = ""
    # Key of the blind indexes (exact look-ups without plaintext). To rotate it, move the current
    # one to <PREFIX>_PREVIOUS_BLIND_INDEX_KEYS (JSON list; look-ups still match it), set the new
    # one here, then run `crm rotate-keys`: remove the previous key once it reports 0 left.
    blind_index_key: str = ""
    previous_blind_index_keys: list[str] = []

    @model_validator(mode="after")
    def _keys(self):
        if not self.encryption_keys or not self.active_key_id or not self.blind_index_key:
            if self.environment != "development":
                prefix = self.component_name().upper()
                raise ValueError(
                    f"{prefix}_ENCRYPTION_KEYS, {prefix}_ACTIVE_KEY_ID and {prefix}_BLIND_INDEX_KEY must be set"
                )
            self._use_development_keys()
        return self

    def _use_development_keys(self) -> None:
        """Local keys, generated once and kept apart from the data under .dev/ (never committed)."""
        from services.kit import crypto

        generated = {"keys": {"dev1": crypto.new_key()}, "active": "dev1", "blind": crypto.new_key()}
        stored = json.loads(create_once(DEV_DIR / f"{self.component_name()}-keys.json", json.dumps(generated).encode()))
        self.encryption_keys = self.encryption_keys or stored["keys"]
        self.active_key_id = self.active_key_id or stored["active"]
        self.blind_index_key = self.blind_index_key or stored["blind"]

    def keyring(self):
        from services.kit import crypto

        return crypto.KeyRing(
            {key_id: crypto.decode_key(key) for key_id, key in self.encryption_keys.items()},
            self.active_key_id,
            crypto.decode_key(self.blind_index_key),
            [crypto.decode_key(key) for key in self.previous_blind_index_keys],
        )
