import json

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.kit import crypto
from services.kit.settings import DEV_DIR, ComponentSettings


class ConsentSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore")

    # Key of the pseudonyms (HMAC-SHA256, base64, at least 256 bits) that replace an erased
    # customer's id; from a KMS-backed secret in production. Changing it changes future pseudonyms only.
    pseudonym_key: str = ""

    # Maker-checker for sharing the bank initiates: who may request, who may approve or reject.
    requester_roles: list[str] = ["relationship_manager", "admin"]
    approver_roles: list[str] = ["compliance_officer"]

    # How often each replica looks for consents that reached their expiry (seconds).
    expiry_check_seconds: float = 2.0

    # The controller and policy named on consent receipts.
    controller_name: str = "Bank CRM"
    controller_contact: str = "privacy@bank.example"
    policy_url: str = "https://bank.example/privacy"
    jurisdiction: str = "CN"

    @model_validator(mode="after")
    def _key(self):
        if not self.pseudonym_key:
            if self.environment != "development":
                raise ValueError("CONSENT_PSEUDONYM_KEY must be set outside development")
            self._use_development_key()
        if len(crypto.decode_key(self.pseudonym_key)) < 32:
            raise ValueError("CONSENT_PSEUDONYM_KEY must be at least 32 bytes, base64-encoded")
        return self

    def _use_development_key(self) -> None:
        """A local key, generated once and kept apart from the data under .dev/ (never committed)."""
        path = DEV_DIR / "consent-pseudonym-key.json"
        if not path.exists():
            DEV_DIR.mkdir(exist_ok=True)
            path.write_text(json.dumps({"pseudonym": crypto.new_key()}))
            path.chmod(0o600)
        self.pseudonym_key = json.loads(path.read_text())["pseudonym"]
