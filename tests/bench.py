"""`make bench`: throughput and latency of the platform's hot paths, each beside a baseline
measured in the same run on the same machine (no thresholds: compare rows, not machines).

1. Read one customer: profile direct vs through the gateway (authentication, RBAC, masking,
   audit), the gateway once per upstream transport (aiohttp, httpx), at 1, 10 and 50 clients.
2. Create customers (unique bodies, role relationship_manager): gateway vs profile direct.
3. Consent decisions (`POST /api/v1/decisions`, which the gateway asks before partner shares),
   permit and deny, direct to the consent service, beside the consent service's `/healthz`.
4. Bulk import of BENCH_IMPORT_ROWS customers (default 100,000) in one CSV file, direct to the
   profile service: rows/s, seconds, file size and the profile process's peak memory.

Runs its own broker and PostgreSQL databases (prefix crm_bench); the servers are separate
processes. The load generator (aiohttp, in this process) shares the machine's cores with them.

    BENCH_SECONDS       seconds per measured cell (default 5)
    BENCH_IMPORT_ROWS   rows in the import file (default 100000)
"""

import asyncio
import itertools
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from events.broker import LocalBroker
from services.kit.identity import caller_headers
from tests import databases
from tests.support import System, free_port, new_customer

DURATION_SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
CONCURRENCY = (1, 10, 50)
CREATE_CONCURRENCY = (1, 10)
SEEDED_CONSENTS = 1000
WARM_UP_REQUESTS = 20
JSON = {"Content-Type": "application/json"}

try:  # the servers run on uvloop (uvicorn picks it); so does the load generator, to spare the cores
    import uvloop

    _run_async, LOOP = uvloop.run, "uvloop"
except ImportError:  # pragma: no cover
    _run_async, LOOP = asyncio.run, "asyncio"


# --- load generator ---------------------------------------------------------------------------

class Cell:
    """One kind of request: method, URL, headers, a body (fixed bytes, or a function making a
    fresh one per request) and the status that counts as success."""

    def __init__(self, method: str, url: str, headers: dict[str, str] | None = None,
                 body: bytes | Callable[[], bytes] | None = None, ok_status: int = 200,
                 ok_body: bytes | None = None):
        self.method, self.url, self.headers = method, url, headers or {}
        self.body, self.ok_status, self.ok_body = body, ok_status, ok_body

    def next_body(self) -> bytes | None:
        return self.body() if callable(self.body) else self.body


async def load(cell: Cell, concurrency: int, seconds: float) -> dict:
    """`concurrency` clients, each sending its next request as soon as the last one answered,
    for `seconds`. An answer is an error unless it has the expected status (and, where one is
    given, contains `ok_body`, e.g. the expected decision)."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def once() -> bool:
            async with session.request(cell.method, cell.url, headers=cell.headers, data=cell.next_body()) as response:
                content = await response.read()
                return response.status == cell.ok_status and (cell.ok_body is None or cell.ok_body in content)

        for _ in range(WARM_UP_REQUESTS):  # warm up connections and caches
            await once()
        deadline = time.perf_counter() + seconds

        async def worker():
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    good = await once()
                except (TimeoutError, aiohttp.ClientError):
                    good = False
                latencies.append(time.perf_counter() - started)
                errors += not good

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50": latencies[n // 2] * 1000,
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "errors": errors,
        "requests": n,
    }


def _header(title: str) -> None:
    print(f"\n{title}\n", flush=True)
    print(f"{'target':<34}{'clients':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}",
          flush=True)


def _row(name: str, concurrency: int, r: dict) -> None:
    print(f"{name:<34}{concurrency:>8}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
          f"{r['requests']:>10}{r['errors']:>8}", flush=True)


async def table(title: str, cells: list[tuple[str, Cell]], concurrencies: tuple[int, ...]) -> None:
    _header(title)
    for concurrency in concurrencies:
        for name, cell in cells:
            _row(name, concurrency, await load(cell, concurrency, DURATION_SECONDS))


# --- the system under test ----------------------------------------------------------------------

def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    broker = LocalBroker(free_port())
    broker.start()
    urls = _run_async(databases.recreate(prefix="crm_bench"))
    system = System(database_urls=urls, bootstrap_servers=broker.bootstrap_servers, workdir=workdir,
                    components=["profile", "consent", "gateway"])
    system.env["LOG_LEVEL"] = "WARNING"
    # The load generator is one caller sending hundreds of requests a second: no rate limit.
    system.env["GATEWAY_RATE_LIMITS"] = ""
    try:
        system.start()
        # A second gateway on the httpx transport, for the comparison.
        system.ports["gateway-httpx"] = free_port()
        system.env["GATEWAY_UPSTREAM_TRANSPORT"] = "httpx"
        system.processes["gateway-httpx"] = _serve_gateway(system, system.ports["gateway-httpx"])
        system.env["GATEWAY_UPSTREAM_TRANSPORT"] = "aiohttp"
        system.wait_ready("gateway-httpx")
        _print_settings(workdir)
        _run_async(_run(system))
    finally:
        system.stop()
        broker.stop()


def _serve_gateway(system: System, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "gateway", "--port", str(port)],
        env=system.env, stdout=open(system.workdir / "gateway-httpx.log", "ab"), stderr=subprocess.STDOUT,
    )


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
    print(f"\nmake bench: {cores} cores ({_cpu_model()}), Python {platform.python_version()}, "
          f"PostgreSQL at {databases.ADMIN_URL.rsplit('@', 1)[-1].rsplit('/', 1)[0]}", flush=True)
    print(f"  BENCH_SECONDS={DURATION_SECONDS:g} s per cell (after {WARM_UP_REQUESTS} warm-up requests), "
          f"BENCH_IMPORT_ROWS={IMPORT_ROWS}", flush=True)
    print(f"  servers: one uvicorn process each (profile, consent, gateway x2); load generator: aiohttp on "
          f"{LOOP}, one process, sharing the cores; logs in {workdir}", flush=True)


async def _run(system: System) -> None:
    await _reads(system)
    await _creates(system)
    await _decisions(system)
    await _import(system)
    print(flush=True)


async def _reads(system: System) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{system.url('profile')}/api/v1/customers", json=new_customer()) as response,
    ):
        customer_id = (await response.json())["id"]
    path = f"/api/v1/customers/{customer_id}"
    gateway_httpx = f"http://127.0.0.1:{system.ports['gateway-httpx']}"
    await table("1. Read one customer (GET /api/v1/customers/{id}, role service_agent via the gateway)", [
        ("profile direct", Cell("GET", system.url("profile") + path, dict(caller_headers("service_agent")))),
        ("gateway (aiohttp)", Cell("GET", system.url("gateway") + path, system.headers("service_agent"))),
        ("gateway (httpx)", Cell("GET", gateway_httpx + path, system.headers("service_agent"))),
    ], CONCURRENCY)


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


async def _creates(system: System) -> None:
    role = "relationship_manager"
    # Direct calls carry the actor headers the gateway would pass on, so the service does the same work.
    direct_actor = dict(caller_headers(role))
    await table("2. Create a customer (POST /api/v1/customers, unique bodies, role relationship_manager)", [
        ("profile direct", Cell("POST", system.url("profile") + "/api/v1/customers", {**JSON, **direct_actor},
                                _customer_bodies("BD1"), ok_status=201)),
        ("gateway (aiohttp)", Cell("POST", system.url("gateway") + "/api/v1/customers",
                                   {**JSON, **system.headers(role)}, _customer_bodies("BG2"), ok_status=201)),
    ], CREATE_CONCURRENCY)


async def _decisions(system: System) -> None:
    consent = system.url("consent")
    recipient, purpose = "partner.bench", "marketing"
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=20)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def grant(i: int) -> None:
            body = {"customer_id": f"bench-customer-{i:05d}", "recipient": recipient, "purpose": purpose,
                    "data_categories": ["basic", "behaviour"], "channel": "mobile"}
            async with session.post(f"{consent}/api/v1/consents", json=body,
                                    headers=caller_headers("customer", body["customer_id"], customer_scope=body["customer_id"])) as r:
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
            return (f'{{"customer_id":"bench-customer-{i:05d}","recipient":"{recipient}",'
                    f'"purpose":"{purpose_asked}","data_categories":{categories}}}').encode()
        return body

    url = f"{consent}/api/v1/decisions"
    as_gateway = dict(caller_headers("gateway", "gateway"))  # who asks for decisions
    await table(
        f"3. Consent decisions (POST /api/v1/decisions direct to consent; {SEEDED_CONSENTS} consents seeded "
        f"in {seeded:.1f} s; random customers)", [
            ("consent /healthz (baseline)", Cell("GET", f"{consent}/healthz")),
            ("decision: permit", Cell("POST", url, {**JSON, **as_gateway}, asking(purpose, '["basic"]'),
                                      ok_body=b'"permit"')),
            ("decision: deny (other purpose)", Cell("POST", url, {**JSON, **as_gateway}, asking("credit_assessment", '["basic"]'),
                                                    ok_body=b'"purpose_not_consented"')),
        ], CONCURRENCY)
    print("  permit: one indexed query; deny (other purpose): a second query to tell the reason", flush=True)


# --- bulk import ----------------------------------------------------------------------------------

def _import_file(rows: int) -> bytes:
    header = "external_ref,name,national_id,phone,email,birth_date,address,assets_under_management\n"
    lines = [
        f"core-{i:09d},Li Wei {i},IM{i:012d},137{i:08d},li.wei.{i}@example.com,19{60 + i % 40:02d}-"
        f"{1 + i % 12:02d}-{1 + i % 28:02d},\"{1 + i % 999} Renmin Road, Shanghai\",{(i * 7919) % 9_000_000}.00\n"
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


async def _import(system: System) -> None:
    started = time.perf_counter()
    content = _import_file(IMPORT_ROWS)
    generated = time.perf_counter() - started
    pid = system.processes["profile"].pid
    before = _memory_kib(pid)
    sampler = MemorySampler(pid)
    headers = {"Content-Type": "text/csv", **caller_headers("relationship_manager")}
    sampler.start()
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800)) as session,
            session.post(f"{system.url('profile')}/api/v1/customers/imports", data=content, headers=headers) as response,
        ):
            status, answer = response.status, await response.text()
    finally:
        elapsed = time.perf_counter() - started
        sampler.stop()
    after = _memory_kib(pid)
    # A new high-water mark is exact; otherwise the import stayed below an earlier peak.
    peak = after["VmHWM"] if after["VmHWM"] > before["VmHWM"] else sampler.peak_kib

    print("\n4. Bulk import (POST /api/v1/customers/imports, one CSV file, direct to profile, "
          "role relationship_manager)\n", flush=True)
    print(f"  rows                      {IMPORT_ROWS:>12,}", flush=True)
    print(f"  file size                 {len(content) / 1e6:>12.1f} MB  ({len(content) / IMPORT_ROWS:.0f} B/row, "
          f"generated in {generated:.1f} s)", flush=True)
    print(f"  answer                    {status:>12}  {answer[:160]}", flush=True)
    print(f"  total time                {elapsed:>12.1f} s", flush=True)
    print(f"  throughput                {IMPORT_ROWS / elapsed:>12,.0f} rows/s"
          + ("" if status == 200 else "  (import FAILED: rows/s is not an import rate)"), flush=True)
    print(f"  profile RSS before        {_mib(before['VmRSS']):>12}  (peak before the import: "
          f"{_mib(before['VmHWM'])})", flush=True)
    print(f"  profile RSS peak          {_mib(peak):>12}  (+{_mib(peak - before['VmRSS'])} over before)", flush=True)
    print(f"  profile RSS after         {_mib(after['VmRSS']):>12}", flush=True)


if __name__ == "__main__":
    main()
