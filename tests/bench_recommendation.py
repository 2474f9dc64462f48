"""Benchmark of the recommendation service, each figure beside a baseline measured in the same run.

1. Recommendations for one customer (GET /api/v1/customers/{id}/recommendations, direct to the
   service, role customer) with BENCH_REC_PRODUCTS products (default 1,000) and
   BENCH_REC_CUSTOMERS customers (default 100,000) in the read model, each with a current risk
   assessment and holdings: p50/p99 beside the same process's /healthz, at 1 and 10 clients.
   Every request applies every hard rule to every product, ranks, stores the list with its
   proof and stages `recommendation.made`.
2. Re-rating one product held by BENCH_REC_HOLDERS customers (default 10,000): the time of the
   POST .../risk-rating that re-matches every holder and announces each mismatch, beside the
   re-rating of a product nobody holds.

    python -m tests.bench_recommendation       (CRM_TEST_DB_PREFIX names its database prefix)
"""

import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx

from events.broker import LocalBroker
from services.kit.identity import caller_headers
from services.recommendation.ranking import asset_band
from tests import databases
from tests.bench import Cell, Tally, load
from tests.support import System, free_port

SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
PRODUCTS = int(os.environ.get("BENCH_REC_PRODUCTS", "1000"))
CUSTOMERS = int(os.environ.get("BENCH_REC_CUSTOMERS", "100000"))
HOLDERS = int(os.environ.get("BENCH_REC_HOLDERS", "10000"))
PREFIX = f"{databases.PREFIX}_bench_rec"
TYPES = ("deposit", "wealth_management", "fund", "insurance", "loan")
BANDS = ("18_39", "40_64", "65_79", "80_plus")
GOALS = ("growth", "income", "preservation", "protection")


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def seed(url: str) -> tuple[str, str, str]:
    """Products, customers with assessments and holdings, by COPY. Returns (customer asked,
    product held by HOLDERS customers, product nobody holds)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    connection = await asyncpg.connect(_asyncpg_url(url))
    try:
        start = await connection.fetchval("SELECT coalesce(max(catalogue_version), 0) FROM product_versions")
        products = []
        for i in range(PRODUCTS):
            level = 1 + i % 5
            products.append(
                (
                    f"B-{i:05d}",
                    f"Bench product {i}",
                    TYPES[i % 5],
                    f"R{level}",
                    "Benchmark product.",
                    rng.choice((0, 1, 3, 5, 10)),
                    rng.choice((0, 1, 3, 30, 365)),
                    Decimal(rng.choice((0, 1000, 50000, 200000))),
                    "simple",
                    "on_sale",
                    1,
                    start + 1 + i,
                    now,
                )
            )
        await connection.copy_records_to_table(
            "products",
            records=products,
            columns=[
                "code",
                "title",
                "product_type",
                "risk_level",
                "description",
                "horizon_years",
                "liquidity_days",
                "min_amount",
                "complexity",
                "status",
                "version",
                "catalogue_version",
                "updated_at",
            ],
        )
        await connection.copy_records_to_table(
            "product_versions",
            columns=[
                "code",
                "version",
                "catalogue_version",
                "data",
                "change",
                "changed_by",
                "changed_by_role",
                "changed_at",
            ],
            records=[(p[0], 1, p[11], '{"seeded": true}', "added", "bench", "product_manager", now) for p in products],
        )
        held, unheld = products[2][0], products[7][0]  # both R3
        customers, assessments, holdings = [], [], []
        for i in range(CUSTOMERS):
            customer_id = f"bench-{i:07d}"
            assets = Decimal(rng.choice((20_000, 250_000, 1_000_000, 20_000_000)))
            band = BANDS[i % 4]
            customers.append((customer_id, None, assets, band, now, now))
            assessments.append(
                (
                    str(uuid.uuid4()),
                    customer_id,
                    "2026.1",
                    "{}",
                    30,
                    f"C{1 + i % 5}",
                    False,
                    False,
                    rng.choice((None, 3, 5, 30)),
                    rng.choice((None, 365)),
                    GOALS[i % 4],
                    band,
                    asset_band(assets),
                    "bench",
                    "customer",
                    now,
                    now + timedelta(days=365),
                )
            )
            for _ in range(2):
                holdings.append(
                    (
                        f"h-{uuid.uuid4().hex}",
                        customer_id,
                        products[rng.randrange(PRODUCTS)][0],
                        Decimal(5000),
                        "corebanking",
                        now,
                    )
                )
            if i < HOLDERS:
                holdings.append((f"h-{uuid.uuid4().hex}", customer_id, held, Decimal(5000), "corebanking", now))
        await connection.copy_records_to_table(
            "customers",
            records=customers,
            columns=[
                "customer_id",
                "risk_level",
                "assets_under_management",
                "age_band",
                "last_event_time",
                "updated_at",
            ],
        )
        await connection.copy_records_to_table(
            "risk_assessments",
            records=assessments,
            columns=[
                "id",
                "customer_id",
                "questionnaire_version",
                "answers",
                "points",
                "risk_level",
                "lowest_category",
                "vulnerable",
                "horizon_years",
                "liquidity_days",
                "goals",
                "age_band",
                "asset_band",
                "recorded_by",
                "recorded_by_role",
                "completed_at",
                "valid_until",
            ],
        )
        await connection.copy_records_to_table(
            "holdings",
            records=holdings,
            columns=["holding_id", "customer_id", "product_code", "amount", "source", "opened_at"],
        )
        asked = "bench-0000003"  # C4, 65-79: the elderly rule shows in the picks' warnings
        await connection.execute(
            "INSERT INTO marketing_consents (consent_id, customer_id, expires_at, active) VALUES ($1, $2, NULL, true)",
            str(uuid.uuid4()),
            asked,
        )
        await connection.execute("ANALYZE")
        return asked, held, unheld
    finally:
        await connection.close()


def _entry(cell: str, value: float, unit: str, baseline: float | None) -> dict:
    return {
        "cell": cell,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline and round(baseline, 3),
        "ratio": round(value / baseline, 2) if baseline else None,
    }


async def _learned(url: str, timeout: float = 300) -> float:
    """Seconds until the service's own learn-popularity job (it runs at start) has learned."""
    started = time.perf_counter()
    connection = await asyncpg.connect(_asyncpg_url(url))
    try:
        while not await connection.fetchval("SELECT count(*) FROM segment_popularity"):
            if time.perf_counter() - started > timeout:
                raise RuntimeError("the learn-popularity job did not finish")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    return time.perf_counter() - started


async def _rerate(client: httpx.AsyncClient, system: System, code: str) -> tuple[float, dict]:
    started = time.perf_counter()
    answer = await client.post(
        f"{system.url('recommendation')}/api/v1/products/{code}/risk-rating",
        json={"risk_level": "R5"},
        headers=caller_headers("product_manager", "pm-bench"),
    )
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed, answer.json()


async def _measure(system: System, asked: str, held: str, unheld: str) -> list[dict]:
    results: list[dict] = []
    base = system.url("recommendation")
    learned = await _learned(system.database_urls["recommendation"])
    print(
        f"\n  learn-popularity (run by the service at start) over {CUSTOMERS:,} customers' holdings: "
        f"done {learned:.1f} s after the service was ready"
    )
    recommend = Cell("GET", f"{base}/api/v1/customers/{asked}/recommendations", caller_headers("customer", asked))
    healthz = Cell("GET", f"{base}/healthz")
    print(f"\n1. Recommendations for one customer ({PRODUCTS:,} products, {CUSTOMERS:,} customers in the read model)\n")
    print(f"{'target':<34}{'clients':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}")
    for clients in (1, 10):
        base_tally, rec_tally = Tally(), Tally()
        await load(healthz, clients, SECONDS, base_tally)
        await load(recommend, clients, SECONDS, rec_tally)
        base_r, rec_r = base_tally.result(), rec_tally.result()
        for name, r in (("recommendation /healthz (baseline)", base_r), ("recommendations", rec_r)):
            print(
                f"{name:<34}{clients:>8}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
                f"{r['requests']:>10}{r['errors']:>8}",
                flush=True,
            )
        for stat in ("p50", "p99"):
            results.append(_entry(f"recommendations {stat}, {clients} client(s)", rec_r[stat], "ms", base_r[stat]))

    async with httpx.AsyncClient(timeout=600) as client:
        empty_s, _ = await _rerate(client, system, unheld)
        full_s, body = await _rerate(client, system, held)
    print("\n2. Re-rate one product R3 -> R5 and re-match every holder and open recommendation\n")
    print(f"  product nobody holds (baseline)   {empty_s * 1000:10.1f} ms")
    print(
        f"  product held by {body['holdings_checked']:,} customers  {full_s * 1000:10.1f} ms  "
        f"({body['recommendations_checked']} open recommendations, {body['mismatches']:,} mismatches announced)"
    )
    results.append(
        _entry(f"re-rate and re-match {body['holdings_checked']} holders", full_s * 1000, "ms", empty_s * 1000)
    )
    return results


def main() -> list[dict]:
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-rec-"))
    broker = LocalBroker(free_port())
    broker.start()
    urls = asyncio.run(databases.recreate(prefix=PREFIX))
    system = System(
        database_urls=urls, bootstrap_servers=broker.bootstrap_servers, workdir=workdir, components=["recommendation"]
    )
    try:
        system.run_cli("migrate", "recommendation")
        started = time.perf_counter()
        asked, held, unheld = asyncio.run(seed(urls["recommendation"]))
        print(
            f"bench_recommendation: seeded {PRODUCTS:,} products, {CUSTOMERS:,} customers with assessments and "
            f"{2 * CUSTOMERS + HOLDERS:,} holdings in {time.perf_counter() - started:.1f} s; logs in {workdir}"
        )
        system.start_component("recommendation")
        system.wait_ready("recommendation")
        return asyncio.run(_measure(system, asked, held, unheld))
    finally:
        system.stop()
        broker.stop()


if __name__ == "__main__":
    for entry in main():
        print(entry)
