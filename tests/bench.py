"""`make bench`: reading a customer directly from the profile service and through the gateway
(authentication, RBAC, masking and audit included), at 1, 10 and 50 concurrent clients, side by
side in one run on the same machine. The gateway runs twice, once per upstream transport, so
the choice of transport stays a measured one.

Runs its own broker and PostgreSQL databases (prefix crm_bench). The load generator is a
separate process from the servers but shares the machine's cores with them: compare the rows
with each other, not with other machines.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from events.broker import LocalBroker
from tests import databases
from tests.support import System, free_port, new_customer

DURATION_SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONCURRENCY = (1, 10, 50)


async def load(url: str, headers: dict[str, str], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(20):  # warm up connections and caches
            async with session.get(url, headers=headers) as response:
                await response.read()
        deadline = time.perf_counter() + seconds

        async def worker():
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
        "requests": len(latencies),
    }


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    broker = LocalBroker(free_port())
    broker.start()
    urls = asyncio.run(databases.recreate(prefix="crm_bench"))
    system = System(database_urls=urls, bootstrap_servers=broker.bootstrap_servers, workdir=workdir,
                    components=["profile", "gateway"])
    system.env["LOG_LEVEL"] = "WARNING"
    try:
        system.start()
        # A second gateway on the httpx transport, for the comparison.
        system.ports["gateway-httpx"] = free_port()
        system.env["GATEWAY_UPSTREAM_TRANSPORT"] = "httpx"
        system.processes["gateway-httpx"] = _serve_gateway(system, system.ports["gateway-httpx"])
        system.env["GATEWAY_UPSTREAM_TRANSPORT"] = "aiohttp"
        system.wait_ready("gateway-httpx")
        asyncio.run(_run(system))
    finally:
        system.stop()
        broker.stop()


def _serve_gateway(system: System, port: int):
    import subprocess

    return subprocess.Popen(
        [sys.executable, "-m", "services.kit.cli", "serve", "gateway", "--port", str(port)],
        env=system.env, stdout=open(system.workdir / "gateway-httpx.log", "ab"), stderr=subprocess.STDOUT,
    )


async def _run(system: System) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{system.url('profile')}/api/v1/customers", json=new_customer()) as response:
            customer_id = (await response.json())["id"]
    path = f"/api/v1/customers/{customer_id}"
    targets = [
        ("profile direct", system.url("profile") + path, {}),
        ("gateway (aiohttp)", system.url("gateway") + path, system.headers("service_agent")),
        ("gateway (httpx)", f"http://127.0.0.1:{system.ports['gateway-httpx']}{path}", system.headers("service_agent")),
    ]
    print(f"\nRead one customer, {DURATION_SECONDS:.0f} s per cell, {os.cpu_count()} cores\n")
    print(f"{'target':<20}{'clients':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for concurrency in CONCURRENCY:
        for name, url, headers in targets:
            r = await load(url, headers, concurrency, DURATION_SECONDS)
            print(f"{name:<20}{concurrency:>8}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['errors']:>8}")
    print()


if __name__ == "__main__":
    main()
