"""`make bench`: the platform's hot paths, each beside a baseline measured in the same run on the
same machine, printed as a ratio of it (no thresholds: compare ratios within one run, not
figures across machines or runs; the machine may be shared).

1. Read one customer: the minimal app (tests/baseline_app.py, the ceiling of this stack) vs
   profile direct vs through the gateway, at 10 and 1 clients, interleaved in rounds; server
   CPU per request from /proc.
2. Create customers: gateway vs profile direct.
3. Consent decisions over HTTP beside the consent service's `/healthz`; and in process (read
   from the database, and answered from a replica's decision index),
   decisions per CPU-second beside a bare asyncpg query per CPU-second.
4. Commit -> effect: a change committed in profile until recommendation's read model has it
   (PostgreSQL NOTIFY from the read model's table), beside the broker alone (produce -> consume).
5. Outbox relay throughput on PostgreSQL beside the bare producer on the same broker.
6. Bulk import of BENCH_IMPORT_ROWS customers: time and the profile process's memory growth;
   and how long changes of another customer take meanwhile.

Then every other `tests/bench_*.py` module's `main() -> list[dict]` (other areas' cells). All
entries go to bench-results.json: {"cell", "value", "unit", "baseline", "ratio"}.

Runs its own broker and PostgreSQL databases (prefix $CRM_TEST_DB_PREFIX_bench); servers are
separate processes; the load generator (this process, on uvloop: one keep-alive connection per
client, the gateway's own `KeptAliveConnection`, answers parsed by httptools) shares the cores; its own CPU per request is printed too.

    BENCH_SECONDS       seconds per measured cell, split over BENCH_ROUNDS rounds (default 6)
    BENCH_ROUNDS        interleaved rounds per table (default 2)
    BENCH_EVENTS        events for commit -> effect (default 300)
    BENCH_RELAY_EVENTS  events for the relay throughput (default 20000)
    BENCH_DECISIONS     in-process decisions (default 3000)
    BENCH_IMPORT_ROWS   rows in the import file (default 100000)
    BENCH_ONLY          comma-separated sections to run (read,create,decide,delivery,relay,import,others),
                        or other modules by name (kpis runs tests/bench_kpis.py; others runs them all)
"""

import asyncio
import contextlib
import importlib
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from events.broker import LocalBroker
from gateway.upstream import KeptAliveConnection
from services.kit.identity import GATEWAY_ROLE, caller_headers
from tests import databases
from tests.support import System, eventually, free_port, new_customer

DURATION_SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "300"))
RELAY_EVENTS = int(os.environ.get("BENCH_RELAY_EVENTS", "20000"))
DECISIONS = int(os.environ.get("BENCH_DECISIONS", "3000"))
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
SEEDED_CONSENTS = 1000
WARM_UP_REQUESTS = 20
ANSWER_TIMEOUT_SECONDS = 60
JSON = {"Content-Type": "application/json"}
PREFIX = f"{databases.PREFIX}_bench"
RESULTS_FILE = Path(__file__).resolve().parents[1] / "bench-results.json"
ROOT = Path(__file__).resolve().parents[1]

try:  # the servers run on uvloop (uvicorn picks it); so does the load generator, to spare the cores
    import uvloop

    _run_async: Callable[[Coroutine[Any, Any, Any]], Any] = uvloop.run
    LOOP = "uvloop"
except ImportError:  # pragma: no cover
    _run_async, LOOP = asyncio.run, "asyncio"


def entry(cell: str, value: float, unit: str, baseline: float | None = None) -> dict:
    """One result; ratio = value / baseline (what "of its baseline" means for that cell)."""
    ratio = value / baseline if baseline else None
    return {
        "cell": cell,
        "value": round(value, 4),
        "unit": unit,
        "baseline": round(baseline, 4) if baseline is not None else None,
        "ratio": round(ratio, 4) if ratio is not None else None,
    }


def print_entries(entries: list[dict]) -> None:
    print(f"\n  {'cell':<48}{'value':>12} {'unit':<14}{'baseline':>12}{'ratio':>9}", flush=True)
    for e in entries:
        baseline = f"{e['baseline']:>12,.2f}" if e["baseline"] is not None else f"{'-':>12}"
        ratio = f"{e['ratio']:>9.2f}" if e["ratio"] is not None else f"{'-':>9}"
        print(f"  {e['cell']:<48}{e['value']:>12,.2f} {e['unit']:<14}{baseline}{ratio}", flush=True)


# --- load generator ---------------------------------------------------------------------------


class Cell:
    """One kind of request: method, URL, headers, a body (fixed bytes, or a function making a
    fresh one per request), the status that counts as success, the server processes whose CPU
    time is charged to it, and the databases (URLs) whose PostgreSQL backends' CPU is."""

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | Callable[[], bytes] | None = None,
        ok_status: int = 200,
        ok_body: bytes | None = None,
        pids: tuple[int, ...] = (),
        databases: tuple[str, ...] = (),
    ):
        self.body, self.ok_status, self.ok_body, self.pids = body, ok_status, ok_body, pids
        self.databases = databases
        parsed = urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {parsed.netloc}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._head = "\r\n".join(lines).encode("latin-1")
        self._fixed = None if callable(body) else self._with_body(body)

    def _with_body(self, body: bytes | None) -> bytes:
        if body is None:
            return self._head + b"\r\n\r\n"
        return b"%s\r\nContent-Length: %d\r\n\r\n%s" % (self._head, len(body), body)

    def request(self) -> bytes:
        """The whole request as sent: the same bytes each time, or with a fresh body."""
        if self._fixed is not None:
            return self._fixed
        assert callable(self.body)
        return self._with_body(self.body())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU-seconds the whole machine spent busy (all but idle and I/O wait) since boot."""
    jiffies = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")


class Tally:
    def __init__(self):
        self.latencies: list[float] = []
        self.errors = 0
        self.elapsed = 0.0
        self.cpu = 0.0
        self.database_cpu = 0.0
        self.machine_cpu = 0.0
        self.generator_cpu = 0.0

    def result(self) -> dict:
        latencies = sorted(self.latencies)
        n = len(latencies)
        return {
            "rps": n / self.elapsed if self.elapsed else 0.0,
            "p50": latencies[n // 2] * 1000 if n else 0.0,
            "p99": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
            "errors": self.errors,
            "requests": n,
            "cpu_ms": self.cpu / n * 1000 if n else 0.0,
            "database_ms": self.database_cpu / n * 1000 if n else 0.0,
            # How much of the machine was busy meanwhile (every process): whether the cell was
            # bound by CPU or by waiting.
            "cores_busy": self.machine_cpu / self.elapsed if self.elapsed else 0.0,
            "generator_ms": self.generator_cpu / n * 1000 if n else 0.0,
        }


class _Client:
    """One client of a cell: connects on first use and again after the server closed."""

    def __init__(self, cell: Cell):
        self.cell = cell
        self.connection: KeptAliveConnection | None = None

    async def once(self) -> bool:
        """One request; whether its answer has the expected status (and, where one is given,
        contains `ok_body`)."""
        if self.connection is None or not self.connection.usable:
            if self.connection is not None:
                self.connection.close()
            loop = asyncio.get_running_loop()
            _, self.connection = await loop.create_connection(KeptAliveConnection, self.cell.host, self.cell.port)
        answer = await self.connection.call(self.cell.request(), head_only=False)
        return answer.status == self.cell.ok_status and (self.cell.ok_body is None or self.cell.ok_body in answer.body)


async def load(cell: Cell, concurrency: int, seconds: float, tally: Tally) -> None:
    """`concurrency` clients, each on its own connection, sending its next request as soon as
    the last one answered, for `seconds`. An answer is an error unless it has the expected status
    (and, where one is given, contains `ok_body`); so is a request still unanswered
    ANSWER_TIMEOUT_SECONDS after the end."""
    clients = [_Client(cell) for _ in range(concurrency)]
    for _ in range(WARM_UP_REQUESTS):  # warm up a connection and the servers' caches
        await clients[0].once()
    deadline = time.perf_counter() + seconds

    async def worker(client: _Client) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                good = await client.once()
            except OSError:  # refused, reset, closed, a malformed answer
                good = False
            tally.latencies.append(time.perf_counter() - started)
            tally.errors += not good

    backends_before = [await _backend_cpu(database) for database in cell.databases]
    cpu_before = sum(cpu_seconds(pid) for pid in cell.pids)
    machine_before = busy_cpu_seconds()
    generator_before = time.process_time()
    started = time.perf_counter()
    workers = [asyncio.ensure_future(worker(client)) for client in clients]
    _, unanswered = await asyncio.wait(workers, timeout=seconds + ANSWER_TIMEOUT_SECONDS)
    for stuck in unanswered:
        stuck.cancel()
    tally.errors += len(unanswered)
    tally.elapsed += time.perf_counter() - started
    tally.generator_cpu += time.process_time() - generator_before
    tally.machine_cpu += busy_cpu_seconds() - machine_before
    tally.cpu += sum(cpu_seconds(pid) for pid in cell.pids) - cpu_before
    for database, before in zip(cell.databases, backends_before, strict=True):
        tally.database_cpu += await _database_cpu_since(database, before)
    for client in clients:
        if client.connection is not None:
            client.connection.close()


async def table(title: str, cells: list[tuple[str, Cell]], concurrencies: tuple[int, ...]) -> dict:
    """Each concurrency: the cells interleaved over ROUNDS rounds (so a noisy neighbour hits
    them alike); returns (name, concurrency) -> result."""
    print(f"\n{title}\n", flush=True)
    print(
        f"{'target':<34}{'clients':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/req':>12}"
        f"{'DB ms/req':>11}{'cores':>7}{'gen ms':>7}{'requests':>10}{'errors':>8}",
        flush=True,
    )
    results = {}
    for concurrency in concurrencies:
        tallies = {name: Tally() for name, _ in cells}
        for _ in range(ROUNDS):
            for name, cell in cells:
                await load(cell, concurrency, DURATION_SECONDS / ROUNDS, tallies[name])
        for name, _ in cells:
            r = results[(name, concurrency)] = tallies[name].result()
            print(
                f"{name:<34}{concurrency:>8}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
                f"{r['cpu_ms']:>12.2f}{r['database_ms']:>11.2f}{r['cores_busy']:>7.2f}{r['generator_ms']:>7.2f}{r['requests']:>10}{r['errors']:>8}",
                flush=True,
            )
    return results


# --- the system under test ----------------------------------------------------------------------


SECTIONS = ("read", "create", "decide", "delivery", "relay", "import")


def main() -> list[dict]:
    entries: list[dict] = []
    if any(wanted(section) for section in SECTIONS):
        entries = _system_cells()
    entries += others()
    print("\nSummary (ratio = value / baseline, both from this run)")
    print_entries(entries)
    RESULTS_FILE.write_text(json.dumps(entries, indent=2) + "\n")
    print(f"\n  {len(entries)} entries written to {RESULTS_FILE.name}\n", flush=True)
    return entries


def _system_cells() -> list[dict]:
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    broker = LocalBroker(free_port())
    broker.start()
    urls = _run_async(databases.recreate(prefix=PREFIX))
    system = System(
        database_urls=urls,
        bootstrap_servers=broker.bootstrap_servers,
        workdir=workdir,
        components=["profile", "consent", "gateway", "recommendation"],
    )
    # Services log as in production (INFO: one line per request); that line is part of the cost.
    # The load generator is one caller sending hundreds of requests a second: no rate limit.
    system.env["GATEWAY_RATE_LIMITS"] = ""
    entries: list[dict] = []
    try:
        system.start()
        _start_baseline(system, "baseline", "tests.baseline_app:app", BASELINE_DATABASE_URL=urls["profile"])
        _start_baseline(system, "proxy", "tests.baseline_proxy:app", BASELINE_UPSTREAM_URL=system.url("profile"))
        _print_settings(workdir)
        entries = _run_async(_run(system, broker))
    finally:
        try:
            _stop(system)
        finally:
            broker.stop()
    return entries


def _start_baseline(system: System, name: str, app: str, **env: str) -> None:
    """A baseline app (`module:app`) served as the services are: uvicorn, uvloop, one process."""
    port = free_port()
    system.processes[name] = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--loop",
            "uvloop",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={**system.env, **env},
        cwd=ROOT,
        stdout=open(system.workdir / f"{name}.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    system.ports[name] = port


def _stop(system: System, timeout: float = 30.0) -> None:
    """Every server stopped: asked first, killed if it does not stop within `timeout`."""
    for process in system.processes.values():
        process.terminate()
    for name, process in list(system.processes.items()):
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"  {name} did not stop within {timeout:g} s; killed", flush=True)
            process.kill()
            process.wait()
    system.processes.clear()


def wanted(section: str) -> bool:
    return not ONLY or section in ONLY


def others() -> list[dict]:
    """Every other tests/bench_*.py module's cells; one that fails is reported and skipped."""
    found: list[dict] = []
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        if ONLY and "others" not in ONLY and path.stem.removeprefix("bench_") not in ONLY:
            continue
        name = f"tests.{path.stem}"
        print(f"\n--- {name} ---", flush=True)
        try:
            module = importlib.import_module(name)
            found += [dict(e) for e in module.main()]
        except Exception:
            traceback.print_exc()
            print(f"  {name} failed; its cells are left out", flush=True)
    return found


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _print_settings(workdir: Path) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load1 = os.getloadavg()[0]
    print(
        f"\nmake bench: {cores} cores ({_cpu_model()}), load average {load1:.1f} at start, Python "
        f"{platform.python_version()}, PostgreSQL at {databases.ADMIN_URL.rsplit('@', 1)[-1].rsplit('/', 1)[0]}",
        flush=True,
    )
    print(
        f"  BENCH_SECONDS={DURATION_SECONDS:g} s per cell in {ROUNDS} interleaved rounds (after {WARM_UP_REQUESTS} "
        f"warm-up requests), BENCH_EVENTS={EVENTS}, BENCH_RELAY_EVENTS={RELAY_EVENTS}, BENCH_IMPORT_ROWS={IMPORT_ROWS}",
        flush=True,
    )
    print(
        f"  servers: one uvicorn process each (baseline, profile, consent, gateway, recommendation); load "
        f"generator: keep-alive connections and httptools on {LOOP}, one process, sharing the cores "
        f"('gen ms': its CPU per request); logs in {workdir}",
        flush=True,
    )


async def _run(system: System, broker: LocalBroker) -> list[dict]:
    entries: list[dict] = []
    await system_wait(system, "baseline")
    await system_wait(system, "proxy")
    for section, step in (
        ("read", _reads),
        ("create", _creates),
        ("decide", _decisions),
        ("delivery", _delivery),
        ("relay", _relay),
        ("import", _import),
    ):
        if wanted(section):
            entries += await step(system)
    print(flush=True)
    return entries


async def system_wait(system: System, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{system.url(name)}/docs") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            await asyncio.sleep(0.2)


async def _customer(system: System) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{system.url('profile')}/api/v1/customers",
            json=new_customer(),
            headers=dict(caller_headers("admin", "bench-admin")),
        ) as response,
    ):
        return (await response.json())["id"]


async def _reads(system: System) -> list[dict]:
    customer_id = await _customer(system)
    path = f"/api/v1/customers/{customer_id}"
    pid = {name: system.processes[name].pid for name in ("baseline", "proxy", "profile", "gateway")}
    database = system.database_urls
    # Direct calls carry the actor headers the gateway would pass on, so the service does the same work.
    direct = dict(caller_headers("service_agent"))
    cells = [
        (
            "minimal app (baseline)",
            Cell(
                "GET",
                f"{system.url('baseline')}/customers/{customer_id}",
                pids=(pid["baseline"],),
                databases=(database["profile"],),
            ),
        ),
        (
            "profile direct",
            Cell("GET", system.url("profile") + path, direct, pids=(pid["profile"],), databases=(database["profile"],)),
        ),
        (
            "minimal proxy (baseline)",
            Cell(
                "GET",
                system.url("proxy") + path,
                direct,
                pids=(pid["proxy"], pid["profile"]),
                databases=(database["profile"],),
            ),
        ),
        (
            "gateway",
            Cell(
                "GET",
                system.url("gateway") + path,
                system.headers("service_agent"),
                pids=(pid["gateway"], pid["profile"]),
                databases=(database["profile"], database["gateway"]),
            ),
        ),
    ]
    r = await table(
        "1. Read one customer (GET /api/v1/customers/{id}, role service_agent; CPU: the serving "
        "processes, proxy or gateway + profile through them; DB: their PostgreSQL backends; cores: the "
        f"whole machine's busy cores meanwhile, of {os.cpu_count()})",
        cells,
        (10, 1),
    )
    base, direct10, gw10 = r[("minimal app (baseline)", 10)], r[("profile direct", 10)], r[("gateway", 10)]
    proxy10 = r[("minimal proxy (baseline)", 10)]
    direct1, gw1 = r[("profile direct", 1)], r[("gateway", 1)]
    return [
        entry("read: profile direct, 10 clients", direct10["rps"], "req/s", base["rps"]),
        entry("read: profile CPU per request", direct10["cpu_ms"], "ms", base["cpu_ms"]),
        entry("read: gateway, 10 clients (of profile direct)", gw10["rps"], "req/s", direct10["rps"]),
        # The ceiling of any hop on this stack, and the gateway beside it: what its own work costs.
        entry("read: minimal proxy, 10 clients (of profile direct)", proxy10["rps"], "req/s", direct10["rps"]),
        entry("read: gateway, 10 clients (of the minimal proxy)", gw10["rps"], "req/s", proxy10["rps"]),
        entry("read: gateway p99, 10 clients", gw10["p99"], "ms", direct10["p99"]),
        # Where the gateway's share goes: its own CPU with profile's, and its access audit's in PostgreSQL.
        entry("read: gateway + profile CPU per request", gw10["cpu_ms"], "ms", direct10["cpu_ms"]),
        entry("read: PostgreSQL CPU per request, gateway", gw10["database_ms"], "ms", direct10["database_ms"]),
        entry("read: gateway p50, 1 client", gw1["p50"], "ms", direct1["p50"]),
        entry("read: gateway adds at p50, 1 client", gw1["p50"] - direct1["p50"], "ms", None),
        entry("read: gateway p99, 1 client", gw1["p99"], "ms", direct1["p99"]),
    ]


def _customer_bodies(prefix: str) -> Callable[[], bytes]:
    """A fresh, valid customer body per call: unique national id, phone and email."""
    counter = itertools.count()

    def body() -> bytes:
        n = next(counter)
        return (
            f'{{"name":"Wang Fang","national_id":"{prefix}{n:012d}","phone":"139{prefix[-1]}{n:08d}",'
            f'"email":"b{prefix}{n}@example.com","birth_date":"1985-06-15","address":"8 Jianguo Road, Beijing",'
            f'"assets_under_management":"250000.00"}}'
        ).encode()

    return body


async def _creates(system: System) -> list[dict]:
    role = "relationship_manager"
    direct_actor = dict(caller_headers(role))
    profile, gateway = system.processes["profile"].pid, system.processes["gateway"].pid
    database = system.database_urls
    r = await table(
        "2. Create a customer (POST /api/v1/customers, unique bodies, role relationship_manager)",
        [
            (
                "profile direct",
                Cell(
                    "POST",
                    system.url("profile") + "/api/v1/customers",
                    {**JSON, **direct_actor},
                    _customer_bodies("BD1"),
                    ok_status=201,
                    pids=(profile,),
                    databases=(database["profile"],),
                ),
            ),
            (
                "gateway",
                Cell(
                    "POST",
                    system.url("gateway") + "/api/v1/customers",
                    {**JSON, **system.headers(role)},
                    _customer_bodies("BG2"),
                    ok_status=201,
                    pids=(gateway, profile),
                    databases=(database["profile"], database["gateway"]),
                ),
            ),
        ],
        (10,),
    )
    return [
        entry(
            "create: gateway, 10 clients (of profile direct)",
            r[("gateway", 10)]["rps"],
            "req/s",
            r[("profile direct", 10)]["rps"],
        )
    ]


async def _decisions(system: System) -> list[dict]:
    consent = system.url("consent")
    recipient, purpose = "partner.bench", "marketing"
    started = time.perf_counter()
    # Consent takes consents only for customers it has heard of from profile's events: the
    # seeded customers are introduced to its read model directly, as those events would.
    admin_url = system.database_urls["consent"].replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.executemany(
            "INSERT INTO known_customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING",
            [(f"bench-customer-{i:05d}",) for i in range(SEEDED_CONSENTS)],
        )
    finally:
        await connection.close()
    connector = aiohttp.TCPConnector(limit=20)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def grant(i: int) -> None:
            customer_id = f"bench-customer-{i:05d}"
            body = {
                "customer_id": customer_id,
                "recipient": recipient,
                "purpose": purpose,
                "data_categories": ["basic", "behaviour"],
                "channel": "mobile",
            }
            async with session.post(
                f"{consent}/api/v1/consents",
                json=body,
                headers=caller_headers("customer", customer_id, customer_scope=customer_id),
            ) as r:
                if r.status != 201:
                    raise RuntimeError(f"seeding consents: {r.status} {await r.text()}")

        ids = iter(range(SEEDED_CONSENTS))

        async def seeder():
            for i in ids:
                await grant(i)

        await asyncio.gather(*(seeder() for _ in range(20)))
    seeded = time.perf_counter() - started
    rng = random.Random(7)

    def asking(purpose_asked: str, categories: str) -> Callable[[], bytes]:
        def body() -> bytes:
            i = rng.randrange(SEEDED_CONSENTS)
            return (
                f'{{"customer_id":"bench-customer-{i:05d}","recipient":"{recipient}",'
                f'"purpose":"{purpose_asked}","data_categories":{categories}}}'
            ).encode()

        return body

    url = f"{consent}/api/v1/decisions"
    pid, database = (system.processes["consent"].pid,), (system.database_urls["consent"],)
    # Signed as the gateway signs its own decision calls (an unsigned call is answered 401).
    asked_by_gateway = {**JSON, **caller_headers(GATEWAY_ROLE, "gateway")}
    r = await table(
        f"3. Consent decisions (POST /api/v1/decisions direct to consent; {SEEDED_CONSENTS} consents seeded "
        f"in {seeded:.1f} s; random customers)",
        [
            ("consent /healthz (baseline)", Cell("GET", f"{consent}/healthz", pids=pid, databases=database)),
            (
                "decision: permit",
                Cell(
                    "POST",
                    url,
                    asked_by_gateway,
                    asking(purpose, '["basic"]'),
                    ok_body=b'"permit"',
                    pids=pid,
                    databases=database,
                ),
            ),
            (
                "decision: deny (other purpose)",
                Cell(
                    "POST",
                    url,
                    asked_by_gateway,
                    asking("credit_assessment", '["basic"]'),
                    ok_body=b'"purpose_not_consented"',
                    pids=pid,
                    databases=database,
                ),
            ),
        ],
        (10,),
    )
    # Everything consent's database did during the decision cells (its background jobs too), per decision.
    decided = [r[(name, 10)] for name in ("decision: permit", "decision: deny (other purpose)")]
    database_us = sum(d["database_ms"] * d["requests"] for d in decided) / sum(d["requests"] for d in decided) * 1000
    health = r[("consent /healthz (baseline)", 10)]["rps"]
    in_process = await _decisions_in_process(
        system.database_urls["consent"], system.bootstrap_servers, recipient, purpose
    )
    return [
        entry(
            "decide: permit over HTTP, 10 clients (of /healthz)", r[("decision: permit", 10)]["rps"], "req/s", health
        ),
        entry(
            "decide: deny over HTTP, 10 clients (of /healthz)",
            r[("decision: deny (other purpose)", 10)]["rps"],
            "req/s",
            health,
        ),
        entry("decide: PostgreSQL CPU per decision over HTTP", database_us, "us"),
        *in_process,
    ]


async def _decisions_in_process(database_url: str, bootstrap_servers: str, recipient: str, purpose: str) -> list[dict]:
    """Decisions as the route makes them (`DecisionReader.decide`), per CPU-second of this
    process, beside the bare driver (one prepared asyncpg query per call on one connection): read
    from the database (no index: each its own statement, or ten at a time), and answered from a
    replica's index (`DecisionIndex`, its follower on the bench's broker) once it holds them."""
    from services.consent import service
    from services.consent.schemas import DecisionRequest
    from services.consent.settings import ConsentSettings

    rng = random.Random(11)
    asks = [
        DecisionRequest(
            customer_id=f"bench-customer-{rng.randrange(SEEDED_CONSENTS):05d}",
            recipient=recipient,
            purpose=purpose,
            data_categories=["basic"],
        )
        for _ in range(DECISIONS)
    ]
    permits = 0
    in_flight = ConsentSettings.model_fields["decision_statements_in_flight"].default
    async with service.DecisionReader.open(database_url, in_flight) as reader:
        if reader is None:
            raise RuntimeError("the decision bench needs PostgreSQL")
        for ask in asks[:100]:  # warm up
            await reader.decide(ask)
        cpu = time.process_time()
        for ask in asks:  # one at a time: each its own statement
            permits += (await reader.decide(ask)).decision == "permit"
        decide_cpu = time.process_time() - cpu
        pending = iter(asks)

        async def asker() -> int:
            return sum([(await reader.decide(ask)).decision == "permit" for ask in pending])

        cpu = time.process_time()
        permits += sum(await asyncio.gather(*(asker() for _ in range(10))))  # ten at a time, as under load
        side_by_side_cpu = time.process_time() - cpu
    index = service.DecisionIndex(bootstrap_servers, customers=SEEDED_CONSENTS, ttl_seconds=600)
    following = asyncio.create_task(index.follower.follow())
    try:
        async with service.DecisionReader.open(database_url, in_flight, index) as indexed:
            assert indexed is not None

            def follower_current() -> None:
                assert index.follower.current(), "the decision index's follower is not current"

            await eventually(follower_current, timeout=30)
            for ask in asks:  # fills the index (every seeded customer a few times over)
                await indexed.decide(ask)
            cpu = time.process_time()
            for ask in asks:
                permits += (await indexed.decide(ask)).decision == "permit"
            indexed_cpu = time.process_time() - cpu
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        query = await connection.prepare("SELECT id FROM consents WHERE customer_id = $1 AND recipient = $2")
        cpu = time.process_time()
        for ask in asks:
            await query.fetch(ask.customer_id, recipient)
        bare_cpu = time.process_time() - cpu
    finally:
        await connection.close()
    if permits != 3 * len(asks):
        raise RuntimeError(f"in-process decisions: {permits} permits of {3 * len(asks)}; every seeded consent permits")
    print(
        f"\n  in process: {len(asks)} decisions read from the database in {decide_cpu:.2f} CPU-s one at a time, "
        f"{side_by_side_cpu:.2f} CPU-s ten at a time; from the index {indexed_cpu:.3f} CPU-s; "
        f"bare asyncpg query: {bare_cpu:.2f} CPU-s",
        flush=True,
    )
    return [
        entry(
            "decide: in process, per CPU-second (of bare asyncpg)",
            len(asks) / decide_cpu,
            "decisions/CPU-s",
            len(asks) / bare_cpu,
        ),
        entry(
            "decide: in process, ten at a time (of bare asyncpg)",
            len(asks) / side_by_side_cpu,
            "decisions/CPU-s",
            len(asks) / bare_cpu,
        ),
        entry(
            "decide: in process, from the index (of bare asyncpg)",
            len(asks) / indexed_cpu,
            "decisions/CPU-s",
            len(asks) / bare_cpu,
        ),
    ]


async def _delivery(system: System) -> list[dict]:
    """Commit in profile -> effect in recommendation's read model, one event at a time: from the
    profile answer (the commit is done) until recommendation's transaction that applied it
    commits (a NOTIFY from a trigger on its read-model table, added for the bench)."""
    database = system.database_urls["recommendation"].replace("postgresql+asyncpg://", "postgresql://")
    listener = await asyncpg.connect(database)
    await listener.execute("""
        CREATE OR REPLACE FUNCTION bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('bench_effect', NEW.customer_id || ' ' || NEW.assets_under_management::text);
        RETURN NEW; END $$;
        DROP TRIGGER IF EXISTS bench_notify ON customers;
        CREATE TRIGGER bench_notify AFTER INSERT OR UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION bench_notify();
    """)
    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Future] = {}

    def on_notify(_connection, _pid, _channel, payload: object) -> None:
        key = str(payload)  # the customer id the trigger sent
        arrived[key] = time.perf_counter()
        future = waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(None)

    await listener.add_listener("bench_effect", on_notify)
    customer_id = await _customer(system)
    url = f"{system.url('profile')}/api/v1/customers/{customer_id}"
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(EVENTS + 10):
                assets = f"{100000 + i}.00"
                key = f"{customer_id} {assets}"
                waiting[key] = asyncio.get_running_loop().create_future()
                async with session.patch(
                    url, json={"assets_under_management": assets}, headers=dict(caller_headers("admin", "bench-admin"))
                ) as response:
                    await response.read()
                    committed = time.perf_counter()
                    if response.status != 200:
                        raise RuntimeError(f"update: {response.status}")
                await asyncio.wait_for(waiting.get(key) or asyncio.sleep(0), timeout=30)
                if i >= 10:  # the first few warm up the consumer
                    latencies.append(max(0.0, arrived[key] - committed))
    finally:
        await listener.close()
    broker = await _broker_alone(system.bootstrap_servers)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"\n4. Commit -> effect (PATCH in profile -> recommendation's read model), {len(latencies)} events\n\n"
        f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms; the broker alone (produce -> consume): "
        f"p50 {broker[0]:.1f} ms, p99 {broker[1]:.1f} ms",
        flush=True,
    )
    return [
        entry("delivery: commit -> effect p50", p50, "ms", broker[0]),
        entry("delivery: commit -> effect p99", p99, "ms", broker[1]),
    ]


async def _broker_alone(bootstrap_servers: str) -> tuple[float, float]:
    """Produce one message and wait for a consumer to get it, EVENTS times, with the platform's
    client settings (events/kafka.py), on a topic of its own."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from events import kafka

    topic = f"bench.latency.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    producer = kafka.producer(bootstrap_servers, "bench")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"bench-{topic}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=kafka.FETCH_MAX_WAIT_MS,
    )
    await producer.start()
    await consumer.start()
    latencies = []
    try:
        for i in range(EVENTS + 10):
            sent = time.perf_counter()
            await producer.send_and_wait(topic, key=str(i % 7).encode(), value=str(i).encode())
            got = False
            while not got:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    got = got or any(r.value == str(i).encode() for r in records)
            if i >= 10:
                latencies.append(time.perf_counter() - sent)
    finally:
        await consumer.stop()
        await producer.stop()
    latencies.sort()
    return latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000


async def _relay(system: System) -> list[dict]:
    """The outbox relay on PostgreSQL (a database of its own, a broker of its own so no service
    consumes these events), RELAY_EVENTS events, beside the bare producer sending the same
    messages to the same broker."""
    import sqlalchemy as sa

    from events import kafka
    from events.contracts import CustomerUpdatedV1
    from events.outbox import Outbox
    from events.store import add_messaging_tables
    from services.kit import db

    admin = await asyncpg.connect(databases.ADMIN_URL)
    name = f"{PREFIX}_relay"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    engine = db.create_engine(databases.database_url("relay", PREFIX))
    metadata = db.new_metadata()
    table, _ = add_messaging_tables(metadata)
    outbox = Outbox(table, source="profile")  # customer events are profile's to publish
    broker = LocalBroker(free_port())
    await asyncio.to_thread(broker.start)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        sessions = db.session_factory(engine)
        payload = CustomerUpdatedV1(
            customer_id="c", risk_level="C3", assets_under_management="1.00", changed_fields=["assets_under_management"]
        )
        for start in range(0, RELAY_EVENTS, 1000):
            async with sessions() as session, session.begin():
                await outbox.emit_many(session, [("customer.updated", payload)] * min(1000, RELAY_EVENTS - start))
        producer = kafka.producer(broker.bootstrap_servers, "bench-relay")
        await producer.start()
        try:
            started = time.perf_counter()
            while await outbox.relay_once(engine, producer):
                pass
            relay_s = time.perf_counter() - started
            async with engine.connect() as connection:
                rows = (await connection.execute(sa.select(table.c.aggregateid, table.c.payload))).all()
            started = time.perf_counter()
            for start in range(0, len(rows), 500):
                sends = [
                    await producer.send("crm.customer", key=r.aggregateid.encode(), value=r.payload.encode())
                    for r in rows[start : start + 500]
                ]
                await asyncio.gather(*sends)
            bare_s = time.perf_counter() - started
        finally:
            await producer.stop()
        left = await outbox.pending(engine)
    finally:
        await engine.dispose()
        await asyncio.to_thread(broker.stop)
    if left:
        raise RuntimeError(f"relay left {left} events unsent")
    print(
        f"\n5. Outbox relay: {RELAY_EVENTS} events in {relay_s:.2f} s ({RELAY_EVENTS / relay_s:,.0f}/s); "
        f"the bare producer: {bare_s:.2f} s ({RELAY_EVENTS / bare_s:,.0f}/s)",
        flush=True,
    )
    return [
        entry(
            "relay: events per second (of the bare producer)", RELAY_EVENTS / relay_s, "events/s", RELAY_EVENTS / bare_s
        )
    ]


# --- bulk import ----------------------------------------------------------------------------------


def _import_file(rows: int) -> bytes:
    header = "external_ref,name,national_id,phone,email,birth_date,address,assets_under_management\n"
    lines = [
        f"core-{i:09d},Li Wei {i},IM{i:012d},137{i:08d},li.wei.{i}@example.com,19{60 + i % 40:02d}-"
        f'{1 + i % 12:02d}-{1 + i % 28:02d},"{1 + i % 999} Renmin Road, Shanghai",{(i * 7919) % 9_000_000}.00\n'
        for i in range(rows)
    ]
    return (header + "".join(lines)).encode()


def _memory_kib(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


class MemorySampler(threading.Thread):
    """Peak resident memory of one process, sampled every 20 ms (VmHWM confirms it)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.peak_kib = max(self.peak_kib, _memory_kib(self.pid)["VmRSS"])
            except (OSError, KeyError):
                return
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


async def _backend_cpu(database_url: str) -> dict[int, float]:
    """CPU-seconds so far of each PostgreSQL backend serving `database_url`'s database (when the
    server runs on this machine, so its processes are in /proc; empty otherwise)."""
    name = database_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(databases.ADMIN_URL)
    try:
        pids = [r["pid"] for r in await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)]
    finally:
        await connection.close()
    found = {}
    for backend in pids:
        with contextlib.suppress(OSError):  # a backend that ended meanwhile
            found[backend] = cpu_seconds(backend)
    return found


async def _database_cpu_since(database_url: str, before: dict[int, float]) -> float:
    """CPU-seconds the database's backends spent since `before` (from `_backend_cpu`). Backends
    opened since count whole; pools keep theirs open, so none is missed."""
    after = await _backend_cpu(database_url)
    return sum(cpu - before.get(backend, 0.0) for backend, cpu in after.items())


async def _changes_during(system: System, running: asyncio.Event) -> list[float]:
    """Seconds each change of another customer took (one after another, as an adviser would make
    them) while `running` is set, and at least one: a customer created today, so in the same
    day's rows of the customer book as the import's customers."""
    customer_id = await _customer(system)
    url = f"{system.url('profile')}/api/v1/customers/{customer_id}"
    took: list[float] = []
    async with aiohttp.ClientSession() as session:
        while running.is_set() or not took:
            started = time.perf_counter()
            async with session.patch(
                url,
                json={"assets_under_management": f"{1000 + len(took)}.00"},
                headers=dict(caller_headers("admin", "bench-admin")),
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"change during the import: {response.status}")
            took.append(time.perf_counter() - started)
            await asyncio.sleep(0.2)  # a few a second: the import's time stays its own
    return took


async def _import(system: System) -> list[dict]:
    started = time.perf_counter()
    content = _import_file(IMPORT_ROWS)
    generated = time.perf_counter() - started
    pid = system.processes["profile"].pid
    before = _memory_kib(pid)
    backends_before = await _backend_cpu(system.database_urls["profile"])
    cpu_before = cpu_seconds(pid)
    sampler = MemorySampler(pid)
    headers = {"Content-Type": "text/csv", **caller_headers("admin", "bench-admin")}  # bulk import is for admins
    running = asyncio.Event()
    running.set()
    changing = asyncio.create_task(_changes_during(system, running))
    sampler.start()
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800)) as session,
            session.post(
                f"{system.url('profile')}/api/v1/customers/imports", data=content, headers=headers
            ) as response,
        ):
            status, answer = response.status, await response.text()
    finally:
        elapsed = time.perf_counter() - started
        sampler.stop()
        running.clear()
    changes = sorted(await changing)
    profile_cpu = cpu_seconds(pid) - cpu_before
    database_cpu = await _database_cpu_since(system.database_urls["profile"], backends_before)
    after = _memory_kib(pid)
    # A new high-water mark is exact; otherwise the import stayed below an earlier peak.
    peak = after["VmHWM"] if after["VmHWM"] > before["VmHWM"] else sampler.peak_kib
    growth_mib = (peak - before["VmRSS"]) / 1024

    print(
        "\n6. Bulk import (POST /api/v1/customers/imports, one CSV file, direct to profile, role admin)\n",
        flush=True,
    )
    print(f"  rows                      {IMPORT_ROWS:>12,}", flush=True)
    print(
        f"  file size                 {len(content) / 1e6:>12.1f} MB  ({len(content) / IMPORT_ROWS:.0f} B/row, "
        f"generated in {generated:.1f} s)",
        flush=True,
    )
    print(f"  answer                    {status:>12}  {answer[:160]}", flush=True)
    print(f"  total time                {elapsed:>12.1f} s", flush=True)
    print(
        f"  throughput                {IMPORT_ROWS / elapsed:>12,.0f} rows/s"
        + ("" if status == 200 else "  (import FAILED: rows/s is not an import rate)"),
        flush=True,
    )
    print(
        f"  CPU                       {profile_cpu:>12.1f} s in profile, {database_cpu:.1f} s in its PostgreSQL "
        f"backends ({1000 * profile_cpu / IMPORT_ROWS:.3f} + {1000 * database_cpu / IMPORT_ROWS:.3f} CPU-s per 1,000 rows; "
        f"load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    print(
        f"  profile RSS before        {_mib(before['VmRSS']):>12}  (peak before the import: {_mib(before['VmHWM'])})",
        flush=True,
    )
    print(f"  profile RSS peak          {_mib(peak):>12}  (+{growth_mib:.0f} MiB over before)", flush=True)
    print(f"  profile RSS after         {_mib(after['VmRSS']):>12}", flush=True)
    change_p50, change_max = changes[len(changes) // 2] * 1000, changes[-1] * 1000
    print(
        f"  changes of another customer meanwhile: {len(changes)}, p50 {change_p50:.1f} ms, "
        f"slowest {change_max:.0f} ms",
        flush=True,
    )
    if status != 200:
        return [entry("import: FAILED", float(status), "status")]
    return [
        entry(f"import: {IMPORT_ROWS} rows, seconds", elapsed, "s"),
        entry("import: profile CPU-s per 1,000 rows", 1000 * profile_cpu / IMPORT_ROWS, "CPU-s"),
        entry("import: PostgreSQL CPU-s per 1,000 rows", 1000 * database_cpu / IMPORT_ROWS, "CPU-s"),
        entry("import: peak memory growth", growth_mib, "MiB"),
        entry("import: slowest change of another customer meanwhile", change_max, "ms"),
        entry("import: file size", len(content) / 2**20, "MiB"),
    ]


if __name__ == "__main__":
    main()
