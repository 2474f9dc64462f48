"""Fixtures for profile tests that need a profile service of their own (own database, explicit
keys), because they restart it or rewrite its data."""

import json

import pytest

from services.kit import crypto
from tests import databases
from tests.support import System


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
async def own_profile(request, bootstrap_servers, tmp_path, keys):
    """A profile service with its own database (named after the test module) and keys k1
    (active) and k2 loaded."""
    prefix = f"{databases.PREFIX}_{request.module.__name__.rsplit('.', 1)[-1].removeprefix('test_')}"
    urls = await databases.migrated(prefix=prefix, components=["profile"])
    own = System(
        database_urls=urls, bootstrap_servers=bootstrap_servers, workdir=tmp_path, components=["profile"], at_head=True
    )
    own.database_prefix = prefix
    own.env.update(key_env(keys, active="k1"))
    try:
        own.start()
        yield own
    finally:
        own.stop()
