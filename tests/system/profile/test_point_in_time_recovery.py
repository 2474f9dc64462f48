"""Point-in-time recovery drill (R2.3), with the PostgreSQL mechanism CloudNativePG's recovery
runs (deploy/BACKUP.md): profile's database on a PostgreSQL cluster of the drill's own, which
archives its write-ahead log. After a base backup, more customers are added; then a mistake
empties the customers table. A new cluster, made from the base backup and the archived log
replayed up to a moment before the mistake, holds every customer committed before that moment
(those after the base backup too), readable with the same keys, and the audit chain verifies
against the checkpoints published before the loss."""

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from events.broker import LocalBroker
from services.kit.identity import caller_headers
from tests.support import System, eventually, free_port, new_customer
from tests.system.profile.conftest import key_env
from tests.system.profile.test_backup_restore import assert_read_back, audit_chain

ADMIN = caller_headers("admin", "admin-pitr")
# PostgreSQL's server programs (Debian's layout, the newest installed major version).
BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), default=Path()
).parent


class Cluster:
    """A PostgreSQL cluster in `root/name`, run as the postgres user (PostgreSQL refuses root),
    listening on 127.0.0.1:`port`, archiving its WAL into `root/archive`."""

    def __init__(self, root: Path, name: str, port: int):
        self.root, self.data, self.port = root, root / name, port

    def run(self, *command: str | Path) -> str:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, command)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{command[0]}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def init(self) -> None:
        self.run(BIN / "initdb", "-D", self.data, "--auth=trust", "-U", "postgres", "--no-sync")
        self.configure(
            port=self.port,
            listen_addresses="'127.0.0.1'",
            unix_socket_directories=f"'{self.root}'",
            wal_level="replica",
            archive_mode="on",
            archive_command=f"'cp %p {self.root / 'archive'}/%f'",
        )

    def configure(self, **settings: object) -> None:
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        self.run(BIN / "pg_ctl", "-D", self.data, "-l", self.root / f"{self.data.name}.log", "-w", "start")

    def stop(self) -> None:
        self.run(BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres", database=database)


@contextmanager
def scratch_root() -> Iterator[Path]:
    """A directory the postgres user owns (pytest's are the root user's alone)."""
    root = Path(tempfile.mkdtemp(prefix="crm-pitr-"))
    (root / "archive").mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(root / "archive", "postgres")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def primary() -> Iterator[Cluster]:
    if shutil.which("runuser") is None or not (BIN / "initdb").exists():
        pytest.fail(f"the drill needs runuser and PostgreSQL's server binaries in {BIN}")
    with scratch_root() as root:
        cluster = Cluster(root, "primary", free_port())
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            for data in ("primary", "restored"):
                if (root / data / "postmaster.pid").exists():
                    Cluster(root, data, cluster.port).stop()


async def test_point_in_time_recovery_drill(primary, client, keys, tmp_path):
    connection = await primary.connect()
    await connection.execute("CREATE DATABASE profile")
    await connection.close()
    broker = LocalBroker(free_port())
    broker.start()
    own = System(
        database_urls={"profile": f"postgresql+asyncpg://postgres@127.0.0.1:{primary.port}/profile"},
        bootstrap_servers=broker.bootstrap_servers,
        workdir=tmp_path,
        components=["profile"],
    )
    own.env.update(key_env(keys, active="k1"))
    try:
        own.start()
        url = own.url("profile") + "/api/v1/customers"
        bodies = [new_customer(name=f"Liulichang Drillperson {i}") for i in range(4)]

        async def create(body: dict) -> dict:
            answer = await client.post(url, json=body, headers=ADMIN)
            assert answer.status_code == 201, answer.text
            return answer.json()

        created = [await create(body) for body in bodies[:2]]
        primary.run(BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
                    "-D", primary.root / "base", "-X", "stream", "--checkpoint=fast")  # fmt: skip
        created += [await create(body) for body in bodies[2:]]  # only in the archived log

        def sealed_chain() -> int:
            sealed, unsealed = audit_chain(own, "profile")
            assert sealed > 0 and unsealed == 0
            return sealed

        sealed_before = await eventually(sealed_chain)
        await asyncio.sleep(1.5)  # checkpoints every 0.5 s here: one of this head is published
        own.stop_component("profile")

        # The moment to recover to; then the mistake, and the log up to it archived.
        connection = await primary.connect("profile")
        target = await connection.fetchval("SELECT now()")
        await asyncio.sleep(1.0)
        await connection.execute("TRUNCATE customers CASCADE")
        segment = await connection.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        await connection.close()
        await eventually(lambda: (primary.root / "archive" / segment).exists())
        primary.stop()

        # A new cluster from the base backup, the archived log replayed up to the moment.
        restored = Cluster(primary.root, "restored", primary.port)
        primary.run("cp", "-a", primary.root / "base", restored.data)
        (restored.data / "recovery.signal").touch()
        shutil.chown(restored.data / "recovery.signal", "postgres")
        restored.configure(
            restore_command=f"'cp {primary.root / 'archive'}/%f %p'",
            recovery_target_time=f"'{target.isoformat()}'",
            recovery_target_action="'promote'",
        )
        restored.start()

        async def promoted() -> None:
            check = await restored.connect()
            try:
                assert await check.fetchval("SELECT NOT pg_is_in_recovery()")
            finally:
                await check.close()

        await eventually(promoted, timeout=60)

        # Every customer committed before the moment is back, readable with the same keys; the
        # audit chain holds every record sealed then, and agrees with its published checkpoints.
        own.start_component("profile")
        own.wait_ready("profile")
        await assert_read_back(client, url, created, bodies)
        assert audit_chain(own, "profile")[0] >= sealed_before
    finally:
        own.stop()
        broker.stop()
