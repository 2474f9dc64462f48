"""Service KPIs at volume: `GET /api/v1/kpis/service` over BENCH_SERVICE_ANSWERS survey answers
(default 1,000,000) and BENCH_SERVICE_CASES cases (default 100,000) in a 30-day window, beside
baselines measured in the same run on the same rows: counting them (one index scan of each
table's window), and the same report computed by scanning every item instead of reading the
hourly sums.

The feedback service runs in process on its own PostgreSQL database (prefix from
CRM_TEST_DB_PREFIX, `_bench`); the fixture is bulk-loaded with COPY (secondary indexes built
after), not through HTTP, and the hourly sums rebuilt from it with the migration's statements.
Figures are medians of BENCH_SERVICE_REPEATS calls (default 5) after one warm-up call.

    python -m tests.bench_service
"""

import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from services.feedback.kpis.rollup import rebuild_statements
from services.kit.identity import caller_headers
from tests import databases

ANSWERS = int(os.environ.get("BENCH_SERVICE_ANSWERS", "1000000"))
CASES = int(os.environ.get("BENCH_SERVICE_CASES", "100000"))
CUSTOMERS = int(os.environ.get("BENCH_SERVICE_CUSTOMERS", "20000"))
REPEATS = int(os.environ.get("BENCH_SERVICE_REPEATS", "5"))
PREFIX = f"{databases.PREFIX}_bench"
END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=30)
CHANNELS = ["mobile", "web", "branch", "call_center"]
TIERS = ["high_net_worth", "affluent", "mass", "potential"]
PRODUCTS = [None, "deposit", "card", "loan", "fund", "insurance"]
SURVEYS = {"csat": (1, 5, 1, 2), "nps": (0, 10, 0, 6), "ces": (1, 7, 6, 7)}


def _moment(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.uniform(0, 30 * 86400 - 1))


def _answers(rng: random.Random, customers: list[tuple[str, str]]) -> list[tuple]:
    span = 30 * 86400 - 1
    rows = []
    for index, (customer, tier), survey, channel, product, offset, draw in zip(
        range(ANSWERS),
        rng.choices(customers, k=ANSWERS),
        rng.choices(list(SURVEYS), k=ANSWERS),
        rng.choices(CHANNELS, k=ANSWERS),
        rng.choices(PRODUCTS, k=ANSWERS),
        (rng.random() * span for _ in range(ANSWERS)),
        (rng.random() for _ in range(ANSWERS)),
        strict=False,
    ):
        low, high, bad_low, bad_high = SURVEYS[survey]
        score = low + int(draw * (high - low + 1))
        rows.append(
            (
                f"answer-{index:09d}",
                customer,
                survey,
                score,
                channel,
                START + timedelta(seconds=offset),
                tier,
                product,
                bad_low <= score <= bad_high,
            )
        )
    return rows


def _cases(rng: random.Random, customers: list[tuple[str, str]], detractors: list[tuple]) -> list[tuple]:
    rows = []
    follow_ups = iter(detractors)
    for index in range(CASES):
        follow_up = next(follow_ups, None) if index % 5 == 0 else None  # a fifth follow detractors up
        if follow_up:
            customer, tier, opened, answer_id = follow_up[1], follow_up[6], follow_up[5], follow_up[0]
            kind, category = "follow_up", "detractor_follow_up"
        else:
            (customer, tier), opened, answer_id = rng.choice(customers), _moment(rng), None
            kind, category = rng.choice(("request", "complaint")), rng.choice(("fees", "card", "service", "account"))
        answered = opened + timedelta(hours=rng.uniform(0.1, 30)) if rng.random() < 0.9 else None
        resolved = answered + timedelta(hours=rng.uniform(0.1, 40)) if answered and rng.random() < 0.8 else None
        closed = resolved + timedelta(hours=1) if resolved and rng.random() < 0.7 else None
        state = "closed" if closed else "resolved" if resolved else "acknowledged" if answered else "opened"
        breached = bool(answered and answered - opened > timedelta(hours=24))
        rows.append(
            (
                f"case-{index:09d}",
                customer,
                kind,
                category,
                rng.choice(CHANNELS),
                "normal",
                rng.choice(("simple", "complex")),
                rng.choice(PRODUCTS),
                tier,
                state,
                "bench",
                opened,
                answered,
                resolved,
                closed,
                breached,
                answer_id,
                opened,
            )
        )
    return rows


async def _load(url: str) -> dict[str, float]:
    rng = random.Random(7)
    customers = [(f"cust-{i}", rng.choice(TIERS)) for i in range(CUSTOMERS)]
    started = time.perf_counter()
    answers = _answers(rng, customers)
    cases = _cases(rng, customers, [a for a in answers if a[8]])
    generated = time.perf_counter() - started
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        started = time.perf_counter()
        await connection.execute("SET maintenance_work_mem = '256MB'")  # index builds in memory
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('feedback', 'cases')"
            " AND indexname LIKE 'ix_%'"
        )
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        await connection.copy_records_to_table(
            "known_customers",
            records=[(c, None, t, None, END) for c, t in customers],
            columns=["customer_id", "relationship_manager_id", "tier", "erased_at", "updated_at"],
        )
        await connection.copy_records_to_table(
            "feedback",
            records=answers,
            columns=["id", "customer_id", "survey", "score", "channel", "received_at", "tier", "product", "detractor"],
        )
        await connection.copy_records_to_table(
            "cases",
            records=cases,
            columns=[
                "id",
                "customer_id",
                "kind",
                "category",
                "channel",
                "priority",
                "complexity",
                "product",
                "tier",
                "state",
                "opened_by",
                "opened_at",
                "first_answer_at",
                "resolved_at",
                "closed_at",
                "sla_breached",
                "answer_id",
                "updated_at",
            ],
        )
        # A tenth of the resolved complaints and requests were reopened.
        await connection.execute(
            "INSERT INTO cases (id, customer_id, kind, category, channel, priority, complexity, product, tier, state,"
            " opened_by, opened_at, sla_breached, updated_at, reopened_from)"
            " SELECT md5(id), customer_id, kind, category, channel, priority, complexity, product, tier, 'opened',"
            " 'bench', resolved_at, false, resolved_at, id FROM cases"
            " WHERE resolved_at IS NOT NULL AND kind <> 'follow_up' AND random() < 0.1 AND resolved_at < $1",
            END,
        )
        for index in indexes:
            await connection.execute(index["indexdef"])
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        for statement in rebuild_statements("postgresql"):
            await connection.execute(statement)
        summed = time.perf_counter() - started
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE feedback")
        await connection.execute("VACUUM ANALYZE cases")
        for table in ("known_customers", "kpi_answers_hourly", "kpi_cases_hourly"):
            await connection.execute(f"VACUUM ANALYZE {table}")
        vacuumed = time.perf_counter() - started
        total_cases = await connection.fetchval("SELECT count(*) FROM cases")
    finally:
        await connection.close()
    return {
        "generated_s": generated,
        "loaded_s": loaded,
        "summed_s": summed,
        "vacuum_s": vacuumed,
        "cases": total_cases,
    }


async def _median_ms(call, repeats: int = REPEATS, warm_up: bool = True) -> float:
    if warm_up:
        await call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _measure(url: str) -> list[dict]:
    os.environ["FEEDBACK_DATABASE_URL"] = url
    from services.components import spec_of
    from services.kit.app import build_app

    app = build_app(spec_of("feedback"), background=False)
    window = {"from": START.isoformat(), "to": END.isoformat()}
    results = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://feedback",
            timeout=600,
            headers=caller_headers("compliance_officer", "bench"),
        ) as http,
    ):
        engine = app.state.engine

        async def baseline():
            async with engine.connect() as connection:
                await connection.exec_driver_sql(
                    "SELECT count(*) FROM feedback WHERE received_at >= $1 AND received_at < $2", (START, END)
                )
                await connection.exec_driver_sql(
                    "SELECT count(*) FROM cases WHERE opened_at >= $1 AND opened_at < $2", (START, END)
                )

        def report(**params):
            async def call():
                answer = await http.get("/api/v1/kpis/service", params={**window, **params})
                assert answer.status_code == 200, answer.text

            return call

        async def scanned():
            from services.feedback.kpis.service import report
            from services.kit.kpi import KpiWindow

            async with app.state.sessions() as session, session.begin():
                await report(session, KpiWindow(start=START, end=END, by=None, bucket="day"), use_hourly_sums=False)

        base = await _median_ms(baseline)
        results.append(
            {
                "cell": "baseline: count answers and cases in the window",
                "value": round(base, 1),
                "unit": "ms",
                "baseline": None,
                "ratio": None,
            }
        )
        scan = await _median_ms(scanned, repeats=min(REPEATS, 3), warm_up=False)  # seconds each: fewer
        results.append(
            {
                "cell": "KPI report scanning every item (no hourly sums)",
                "value": round(scan, 1),
                "unit": "ms",
                "baseline": round(base, 1),
                "ratio": round(scan / base, 2),
            }
        )
        for label, params in (
            ("GET KPI report, 30 days, daily series", {}),
            (
                "GET KPI report, window not on whole hours",
                {"from": (START + timedelta(minutes=30)).isoformat(), "to": (END - timedelta(minutes=20)).isoformat()},
            ),
            ("GET KPI report by channel, daily", {"by": "channel"}),
            ("GET KPI report by tier, weekly", {"by": "tier", "bucket": "week"}),
            ("GET KPI report by product, monthly", {"by": "product", "bucket": "month"}),
        ):
            value = await _median_ms(report(**params))
            results.append(
                {
                    "cell": label,
                    "value": round(value, 1),
                    "unit": "ms",
                    "baseline": round(base, 1),
                    "ratio": round(value / base, 2),
                }
            )
    return results


def main() -> list[dict]:
    import logging

    from services.components import spec_of
    from services.kit.migrations import upgrade

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    url = asyncio.run(databases.recreate_one("feedback", prefix=PREFIX))
    spec = spec_of("feedback")
    upgrade(spec.migrations, url, spec.metadata)
    loading = asyncio.run(_load(url))
    print(
        f"bench_service: {ANSWERS:,} answers, {loading['cases']:,} cases, {CUSTOMERS:,} customers over 30 days; "
        f"generated in {loading['generated_s']:.1f} s, COPY and indexes {loading['loaded_s']:.1f} s, "
        f"hourly sums {loading['summed_s']:.1f} s, VACUUM ANALYZE {loading['vacuum_s']:.1f} s; median of {REPEATS} calls"
    )
    results = asyncio.run(_measure(url))
    print(f"\n    {'cell':<52}{'value':>10}  unit  {'baseline':>9}  ratio")
    for r in results:
        print(f"    {r['cell']:<52}{r['value']:>10.1f}  {r['unit']:<4}  {r['baseline'] or '':>9}  {r['ratio'] or ''}")
    print("    ratio: the cell over the count baseline (same run, same rows)")
    return results


if __name__ == "__main__":
    main()
