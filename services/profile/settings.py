import json
from decimal import Decimal

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.kit import crypto
from services.kit.settings import DEV_DIR, ComponentSettings


class ProfileSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILE_", extra="ignore")

    # Field encryption keys: key id -> base64 256-bit key (JSON), from a KMS-backed secret in
    # production. Keep retired keys here until `crm rotate-keys profile` has re-encrypted their values.
    encryption_keys: dict[str, str] = {}
    active_key_id: str = ""
    # Key of the blind indexes (national ID, phone look-ups). Changing it means re-indexing.
    blind_index_key: str = ""

    # Tier thresholds on assets under management, reporting currency (R1.1).
    tier_high_net_worth_assets: Decimal = Decimal("6000000")
    tier_affluent_assets: Decimal = Decimal("500000")
    tier_mass_assets: Decimal = Decimal("50000")

    # Roles that see only the customers assigned to them (R4.1 relationship managers).
    assigned_only_roles: list[str] = ["relationship_manager"]

    @model_validator(mode="after")
    def _keys(self):
        if not self.encryption_keys or not self.active_key_id or not self.blind_index_key:
            if self.environment != "development":
                raise ValueError("PROFILE_ENCRYPTION_KEYS, PROFILE_ACTIVE_KEY_ID and PROFILE_BLIND_INDEX_KEY must be set")
            self._use_development_keys()
        return self

    def _use_development_keys(self) -> None:
        """Local keys, generated once and kept apart from the data under .dev/ (never committed)."""
        path = DEV_DIR / "profile-keys.json"
        if not path.exists():
            DEV_DIR.mkdir(exist_ok=True)
            path.write_text(json.dumps({"keys": {"dev1": crypto.new_key()}, "active": "dev1", "blind": crypto.new_key()}))
            path.chmod(0o600)
        stored = json.loads(path.read_text())
        self.encryption_keys = self.encryption_keys or stored["keys"]
        self.active_key_id = self.active_key_id or stored["active"]
        self.blind_index_key = self.blind_index_key or stored["blind"]

    def keyring(self) -> crypto.KeyRing:
        return crypto.KeyRing(
            {key_id: crypto.decode_key(key) for key_id, key in self.encryption_keys.items()},
            self.active_key_id,
            crypto.decode_key(self.blind_index_key),
        )
