"""Local development keys: processes starting together all end up with the one key that landed
first (a test worker sealing data under a key its neighbour then overwrote could not read it back)."""

import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from services.kit.settings import create_once


def _claim(path: str, content: bytes) -> bytes:
    return create_once(Path(path), content)


def test_the_first_content_to_land_is_the_one_everyone_reads(tmp_path):
    path = tmp_path / "keys" / "profile-keys.json"
    assert create_once(path, b"first") == b"first"
    assert create_once(path, b"second") == b"first"
    assert path.read_bytes() == b"first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["profile-keys.json"]  # no staged copy left behind


def test_processes_racing_to_create_it_all_read_one_key(tmp_path):
    path = tmp_path / "service-identity.key"
    contenders = [f"key-{n}".encode() for n in range(16)]
    with ProcessPoolExecutor(max_workers=8) as pool:
        read = set(pool.map(_claim, [str(path)] * len(contenders), contenders))
    assert len(read) == 1 and read <= set(contenders)
    assert read == {path.read_bytes()}
    assert os.listdir(tmp_path) == ["service-identity.key"]
