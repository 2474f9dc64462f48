"""The local token-signing key pair: processes starting together (the gateway and `make token`,
test workers) end up with one pair whose halves match."""

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from gateway.auth import ensure_dev_keypair


def _ensure(directory: str) -> None:
    ensure_dev_keypair(Path(directory) / "jwt-private.pem", Path(directory) / "jwt-public.pem")


def test_processes_racing_to_create_the_pair_leave_one_matching_pair(tmp_path):
    with ProcessPoolExecutor(max_workers=8) as pool:
        list(pool.map(_ensure, [str(tmp_path)] * 16))

    private = serialization.load_pem_private_key((tmp_path / "jwt-private.pem").read_bytes(), password=None)
    derived = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert (tmp_path / "jwt-public.pem").read_bytes() == derived
    assert sorted(path.name for path in tmp_path.iterdir()) == ["jwt-private.pem", "jwt-public.pem"]
