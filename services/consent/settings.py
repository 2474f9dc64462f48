from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ComponentSettings, secret_or_development


class ConsentSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore")

    # Key of the pseudonyms (HMAC-SHA256, base64, at least 256 bits) that replace an erased
    # customer's id; from a KMS-backed secret in production. Changing it changes future pseudonyms only.
    pseudonym_key: str = ""

    # Maker-checker for sharing the bank initiates: who may request, who may approve or reject.
    requester_roles: list[str] = ["relationship_manager", "admin"]
    approver_roles: list[str] = ["compliance_officer"]
    # A consent is given directly only by the customer themselves (their own id), in one of
    # the customer channels, on the legal basis of consent; anything else goes through a request.
    self_service_roles: list[str] = ["customer"]
    customer_channels: list[str] = ["web", "mobile"]

    # Decision round trips out at once per replica, each on a bare connection of its own
    # (DecisionReader, outside the main pool); decisions asked meanwhile wait and go together in
    # the next. One keeps batches largest under load: at 10 concurrent asks in process, 40-54 us
    # of CPU per decision against 77-85 with five (with five, asks seldom had to wait); over HTTP
    # at 10 clients, two gave no more decisions per second than one.
    decision_statements_in_flight: int = 1
    # Customers whose consents each replica keeps for its decisions (service.DecisionIndex, on
    # PostgreSQL), kept current by consent events; 0: every decision asks the database. About
    # 1.2 KB each with one consent (20,000: some 24 MB of the pod's memory). Each customer's are
    # read again after the TTL (seconds) at the latest.
    decision_index_customers: int = Field(20_000, ge=0)
    decision_index_ttl_seconds: float = Field(60.0, gt=0)

    # How often each replica looks for consents that reached their expiry (seconds).
    expiry_check_seconds: float = 2.0

    # The controller and policy named on consent receipts.
    controller_name: str = "Bank CRM"
    controller_contact: str = "privacy@bank.example"
    policy_url: str = "https://bank.example/privacy"
    jurisdiction: str = "CN"

    @model_validator(mode="after")
    def _key(self):
        self.pseudonym_key = secret_or_development(
            self.pseudonym_key,
            setting="CONSENT_PSEUDONYM_KEY",
            environment=self.environment,
            dev_name="consent-pseudonym",
        )
        return self
