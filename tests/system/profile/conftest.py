"""Fixtures for profile tests that need a profile service of their own (own database, explicit
keys), because they restart it or rewrite its data."""

import json

import pytest

from services.kit import crypto
from tests.support import system_of_its_own


def key_env(keys: dict[str, str], *, active: str) -> dict[str, str]:
    """Settings for `keys` (key id -> base64 key, plus "blind" for the blind-index key)."""
    sealing = {key_id: key for key_id, key in keys.items() if key_id != "blind"}
    return {
        "PROFILE_ENCRYPTION_KEYS": json.dumps(sealing),
        "PROFILE_ACTIVE_KEY_ID": active,
        "PROFILE_BLIND_INDEX_KEY": keys["blind"],
    }


@pytest.fixture
def keys() -> dict[str, str]:
    return {"k1": crypto.new_key(), "k2": crypto.new_key(), "blind": crypto.new_key()}


@pytest.fixture
def own_profile(request, tmp_path, keys):
    """A profile service with its own broker and database (named after the test module) and keys
    k1 (active) and k2 loaded. Its own broker: on the session's, its consumers would join the
    session profile's groups and take events meant for it."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with system_of_its_own(tmp_path, name, ["profile"], **key_env(keys, active="k1")) as (own, _):
        yield own
