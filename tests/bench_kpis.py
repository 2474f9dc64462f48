"""Every KPI route at bank scale: p50 and p95 of each route over BENCH_KPI_CUSTOMERS customers
(default 100,000) and BENCH_KPI_ANSWERS survey answers (default 1,000,000), beside the same
service's `/healthz` measured in the same run (the floor of a call through the app).

Each component gets its own PostgreSQL database (prefix $CRM_TEST_DB_PREFIX_kpibench), migrated
to head and filled in bulk by INSERT ... SELECT over generate_series on the server (not through
the API), with a fixed random seed; three years of history up to END:

    profile         customers (tier, stage, manager, risk level, assets), stage and tier history,
                    one identity document each
    consent         three consents per customer (some revoked, some expiring), daily decision
                    tallies per recipient, purpose and outcome
    churn           features (band, probability, manager) per customer, retention interventions
    recommendation  suitability checks and mismatches
    feedback        survey answers, cases (complaints, requests, detractor follow-ups, reopened
                    cases), known customers; the hourly sums rebuilt from them

Every route is called in process (ASGI, httpx) for windows of 7, 30 and 365 days ending at END,
without and with a breakdown, and as a relationship manager where the route scopes figures to a
portfolio; BENCH_KPI_REPEATS calls each (default 40) after one warm-up call.

    BENCH_KPI_ONLY      comma-separated components to run (default: all five)
    BENCH_KPI_REUSE=1   measure the databases an earlier run seeded (migrated to head first)

    python -m tests.bench_kpis
"""

import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import sqlalchemy as sa

from services.kit.identity import caller_headers
from tests import databases

CUSTOMERS = int(os.environ.get("BENCH_KPI_CUSTOMERS", "100000"))
ANSWERS = int(os.environ.get("BENCH_KPI_ANSWERS", "1000000"))
REPEATS = int(os.environ.get("BENCH_KPI_REPEATS", "40"))
REUSE = os.environ.get("BENCH_KPI_REUSE") == "1"
MANAGERS = 200
MANAGER = "rm-007"  # the relationship manager the portfolio-scoped cells call as
PREFIX = f"{databases.PREFIX}_kpibench"
END = datetime(2026, 11, 1, tzinfo=UTC)
WINDOWS = (7, 30, 365)

# SQL fragments shared by the fixtures: the i-th customer's id and manager, a pick from a list.
CUSTOMER = "'cust-' || lpad(({i})::text, 7, '0')"
MANAGER_OF = "'rm-' || lpad((({i}) % " + str(MANAGERS) + ")::text, 3, '0')"
HISTORY = "$1::timestamptz - random() * interval '1095 days'"  # a moment in the three years before END


def _customer(i: str) -> str:
    return CUSTOMER.format(i=i)


def _manager(i: str) -> str:
    return MANAGER_OF.format(i=i)


def _pick(*values: str | None) -> str:
    items = ", ".join("NULL" if v is None else f"'{v}'" for v in values)
    return f"(ARRAY[{items}])[1 + floor(random() * {len(values)})::int]"


def _random_customer() -> str:
    return _customer(f"1 + floor(random() * {CUSTOMERS})::int")


def _lifetime_value(assets: str, probability: str) -> str:
    """The service's own lifetime value expression (services/churn/features/value.py) as SQL, with
    its default settings, so the seeded rows hold what the service would have stored."""
    from sqlalchemy.dialects import postgresql

    from services.churn.features.value import lifetime_value_sql
    from services.churn.settings import ChurnSettings

    value = lifetime_value_sql(sa.column(assets), sa.column(probability), ChurnSettings())
    return str(value.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


TIERS = ("high_net_worth", "affluent", "mass", "mass", "potential")
PRODUCTS = (None, "deposit", "card", "loan", "fund", "insurance")
FEEDBACK_CHANNELS = ("mobile", "web", "branch", "call_center")

FIXTURES: dict[str, list[str]] = {
    "profile": [
        f"""INSERT INTO customers (id, key_id, assets_under_management, product_holdings, risk_level, tier,
                lifecycle_stage, relationship_manager_id, onboarding_channel, version, created_at, updated_at,
                erased_at)
            SELECT {_customer("i")}, 'bench', round((random() * 2000000)::numeric, 2), floor(random() * 6)::int,
                {_pick("C1", "C2", "C3", "C4", "C5", None)}, {_pick(*TIERS)},
                {_pick("prospect", "onboarding", "active", "active", "active", "active", "dormant", "churned")},
                {_manager("i")}, 'branch', 1, created, created,
                CASE WHEN random() < 0.005 THEN created + interval '30 days' END
            FROM (SELECT i, {HISTORY} AS created FROM generate_series(1, {CUSTOMERS}) i) s""",
        """INSERT INTO lifecycle_history (customer_id, from_stage, to_stage, at, actor)
            SELECT id, NULL, 'prospect', created_at, 'bench' FROM customers
            UNION ALL
            SELECT id, 'prospect', 'active', created_at + interval '3 days', 'bench' FROM customers
            WHERE lifecycle_stage NOT IN ('prospect', 'onboarding')
            UNION ALL
            SELECT id, 'active', lifecycle_stage, created_at + ($1::timestamptz - created_at) * random(), 'bench'
            FROM customers WHERE lifecycle_stage IN ('dormant', 'churned')""",
        f"""INSERT INTO tier_history (customer_id, from_tier, to_tier, at)
            SELECT id, NULL, tier, created_at FROM customers
            UNION ALL
            SELECT id, {_pick(*TIERS)}, tier, created_at + ($1::timestamptz - created_at) * random()
            FROM customers WHERE random() < 0.3""",
        """INSERT INTO customer_documents (id, customer_id, type, key_id, issuer, issued_on, expires_on, created_at)
            SELECT md5(id), id, 'national_id', 'bench', 'bench', created_at::date,
                ($1::timestamptz + (random() * 2190 - 365) * interval '1 day')::date, created_at
            FROM customers""",
    ],
    "consent": [
        f"""INSERT INTO consents (id, customer_id, recipient, recipient_type, purpose, data_categories, legal_basis,
                channel, language, status, created_at, granted_at, granted_by, expires_at, revoked_at, revoked_by)
            SELECT md5(i::text || '-' || k), {_customer("i")}, recipient,
                CASE WHEN recipient LIKE 'partner-%' THEN 'external' ELSE 'internal' END,
                {_pick("marketing", "credit_assessment", "risk_control", "third_party_sharing", "analytics")},
                '["basic"]', 'consent', {_pick("web", "mobile", "branch")}, 'en',
                CASE WHEN revoked IS NOT NULL THEN 'revoked' WHEN expires < $1::timestamptz THEN 'expired'
                    ELSE 'active' END,
                granted, granted, 'bench', expires, revoked, CASE WHEN revoked IS NOT NULL THEN 'bench' END
            FROM (
                SELECT i, k, granted,
                    {_pick("bank", "bank", "insurer", "partner-fund", "partner-card", "partner-travel")} AS recipient,
                    CASE WHEN random() < 0.6 THEN granted + interval '730 days' END AS expires,
                    CASE WHEN random() < 0.15 THEN granted + ($1::timestamptz - granted) * random() END AS revoked
                FROM (SELECT i, k, {HISTORY} AS granted
                      FROM generate_series(1, {CUSTOMERS}) i, generate_series(1, 3) k) g
            ) s""",
        """INSERT INTO decision_tallies (day, recipient, purpose, decision, count)
            SELECT day::date, recipient, purpose, decision, floor(random() * 400)::bigint
            FROM generate_series($1::timestamptz - interval '1095 days', $1::timestamptz - interval '1 day',
                    interval '1 day') day,
                unnest(ARRAY['bank', 'insurer', 'partner-fund', 'partner-card', 'partner-travel']) recipient,
                unnest(ARRAY['marketing', 'credit_assessment', 'risk_control', 'third_party_sharing', 'analytics'])
                    purpose,
                unnest(ARRAY['permit', 'deny']) decision""",
    ],
    "churn": [
        f"""INSERT INTO customer_features (customer_id, assets_under_management, manager_id, tier, churned_at,
                first_seen_at, score, probability, lifetime_value, model, level, complaints, low_csat,
                nps_detractors, state, updated_at)
            SELECT {_customer("i")}, assets, {_manager("i")}, {_pick(*TIERS)},
                CASE WHEN random() < 0.08 THEN seen + ($1::timestamptz - seen) * random() END, seen,
                (p * 100)::int, p, {_lifetime_value("assets", "p")}, 'bench-model',
                CASE WHEN p >= 0.7 THEN 'high' WHEN p >= 0.4 THEN 'medium' ELSE 'low' END, 0, 0, 0, '{{}}', seen
            FROM (SELECT i, {HISTORY} AS seen, power(random(), 2) AS p,
                         round((random() * 2000000)::numeric, 2) AS assets
                  FROM generate_series(1, {CUSTOMERS}) i) s""",
        f"""INSERT INTO retention_interventions (id, customer_id, band, previous_band, "group", probability, model,
                reasons, created_at)
            SELECT md5('intervention-' || i), {_random_customer()}, band,
                CASE band WHEN 'high' THEN 'medium' ELSE 'low' END,
                CASE WHEN random() < 0.1 THEN 'control' ELSE 'treated' END, random(), 'bench-model', '[]',
                {HISTORY}
            FROM (SELECT i, {_pick("medium", "medium", "high")} AS band
                  FROM generate_series(1, {CUSTOMERS // 2}) i) s""",
    ],
    "recommendation": [
        f"""INSERT INTO suitability_checks (id, customer_id, product_code, product_version, product_risk_level,
                customer_risk_level, amount, result, rule_ids, verdict, inputs, ruleset_version, overridden,
                decided_by, decided_by_role, decided_at)
            SELECT md5('check-' || i), {_random_customer()},
                {_pick("deposit-12m", "card-gold", "loan-home", "fund-equity", "fund-bond", "insurance-life")},
                1, {_pick("R1", "R2", "R3", "R4", "R5")}, {_pick("C1", "C2", "C3", "C4", "C5")},
                round((random() * 100000)::numeric, 2), result, '', '{{}}', '{{}}', 'bench',
                result = 'warn' AND random() < 0.3, 'rm-bench', 'relationship_manager', {HISTORY}
            FROM (SELECT i, {_pick("pass", "pass", "pass", "pass", "warn", "block")} AS result
                  FROM generate_series(1, {CUSTOMERS * 3}) i) s""",
        f"""INSERT INTO suitability_mismatches (customer_id, product_code, product_risk_level, customer_risk_level,
                rule_ids, cause, detected_at)
            SELECT {_random_customer()}, {_pick("fund-equity", "fund-bond", "insurance-life")},
                {_pick("R3", "R4", "R5")}, {_pick("C1", "C2", "C3")}, '', {_pick("risk_level_changed", "rerated")},
                {HISTORY}
            FROM generate_series(1, {CUSTOMERS // 5}) i""",
    ],
    "feedback": [
        f"""INSERT INTO known_customers (customer_id, relationship_manager_id, tier, erased_at, updated_at)
            SELECT {_customer("i")}, {_manager("i")}, {_pick(*TIERS)},
                CASE WHEN random() < 0.005 THEN $1::timestamptz END, $1::timestamptz
            FROM generate_series(1, {CUSTOMERS}) i""",
        # A year of answers (the 365-day window holds them all).
        f"""INSERT INTO feedback (id, customer_id, survey, score, channel, received_at, tier, product, detractor)
            SELECT 'answer-' || i, {_random_customer()}, survey, score, {_pick(*FEEDBACK_CHANNELS)},
                $1::timestamptz - random() * interval '365 days', {_pick(*TIERS)}, {_pick(*PRODUCTS)},
                CASE survey WHEN 'csat' THEN score <= 2 WHEN 'nps' THEN score <= 6 ELSE score >= 6 END
            FROM (SELECT i, survey, CASE survey WHEN 'csat' THEN 1 + floor(random() * 5)
                                                WHEN 'nps' THEN floor(random() * 11)
                                                ELSE 1 + floor(random() * 7) END::smallint AS score
                  FROM (SELECT i, {_pick("csat", "nps", "ces")} AS survey
                        FROM generate_series(1, {ANSWERS}) i) g) s""",
        # Complaints and requests, then one follow-up for every tenth detractor.
        f"""INSERT INTO cases (id, customer_id, kind, category, channel, priority, complexity, product, tier, state,
                opened_by, opened_at, first_answer_at, resolved_at, closed_at, sla_breached, updated_at)
            SELECT 'case-' || i, {_random_customer()}, {_pick("request", "complaint")},
                {_pick("fees", "card", "service", "account")}, {_pick(*FEEDBACK_CHANNELS)}, 'normal',
                {_pick("simple", "complex")}, {_pick(*PRODUCTS)}, {_pick(*TIERS)},
                CASE WHEN closed IS NOT NULL THEN 'closed' WHEN resolved IS NOT NULL THEN 'resolved'
                    WHEN answered IS NOT NULL THEN 'acknowledged' ELSE 'opened' END,
                'bench', opened, answered, resolved, closed, coalesce(answered - opened > interval '24 hours', false),
                opened
            FROM (SELECT i, opened, answered, resolved,
                         CASE WHEN random() < 0.7 THEN resolved + interval '1 hour' END AS closed
                  FROM (SELECT i, opened, answered,
                               CASE WHEN random() < 0.8 THEN answered + random() * interval '40 hours' END AS resolved
                        FROM (SELECT i, opened,
                                     CASE WHEN random() < 0.9 THEN opened + random() * interval '30 hours' END
                                         AS answered
                              FROM (SELECT i, $1::timestamptz - random() * interval '365 days' AS opened
                                    FROM generate_series(1, {ANSWERS // 12}) i) a) b) c) d""",
        """INSERT INTO cases (id, customer_id, kind, category, channel, priority, complexity, product, tier, state,
                opened_by, opened_at, first_answer_at, closed_at, sla_breached, answer_id, updated_at)
            SELECT 'follow-up-' || a.id, a.customer_id, 'follow_up', 'detractor_follow_up', a.channel, 'normal',
                'simple', a.product, a.tier, CASE WHEN random() < 0.8 THEN 'closed' ELSE 'opened' END, 'bench',
                a.received_at, a.received_at + interval '2 hours', NULL, random() < 0.1, a.id, a.received_at
            FROM feedback a WHERE a.detractor AND random() < 0.1""",
        "UPDATE cases SET closed_at = opened_at + interval '20 hours' WHERE kind = 'follow_up' AND state = 'closed'",
        # A tenth of the resolved complaints and requests were reopened.
        """INSERT INTO cases (id, customer_id, kind, category, channel, priority, complexity, product, tier, state,
                opened_by, opened_at, sla_breached, updated_at, reopened_from)
            SELECT md5(id), customer_id, kind, category, channel, priority, complexity, product, tier, 'opened',
                'bench', resolved_at, false, resolved_at, id FROM cases
            WHERE resolved_at IS NOT NULL AND kind <> 'follow_up' AND random() < 0.1 AND resolved_at < $1""",
    ],
}

# A second floor per component: one bare count of its largest table the route reads (what any
# figure over all of it costs on this machine at this moment; the machine may be shared).
SCANS = {
    "profile": "SELECT count(*) FROM customers",
    "consent": "SELECT count(*) FROM consents",
    "churn": "SELECT count(*) FROM customer_features",
    "recommendation": "SELECT count(*) FROM suitability_checks",
    "feedback": "SELECT count(*) FROM feedback",
}

# (component, path, breakdowns benched, scoped to a manager's portfolio)
ROUTES = (
    ("profile", "/api/v1/kpis/customers", ("tier", "manager"), True),
    ("consent", "/api/v1/kpis/consent", ("purpose",), False),
    ("churn", "/api/v1/kpis/churn", ("band",), True),
    ("recommendation", "/api/v1/kpis/recommendation", ("product",), False),
    ("feedback", "/api/v1/kpis/service", ("channel",), False),
)


async def _seed(component: str, url: str) -> float:
    from services.feedback.kpis.rollup import rebuild_statements

    started = time.perf_counter()
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("SELECT setseed(0.42)")  # the same rows on every run
        for statement in FIXTURES[component]:
            await connection.execute(statement, *([END] if "$1" in statement else []))
        if component == "feedback":
            for statement in rebuild_statements("postgresql"):
                await connection.execute(statement)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


def _percentiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=20, method="inclusive")
    return statistics.median(times), cuts[18]


async def _timed(call) -> tuple[float, float]:
    await call()  # warm-up: connections, caches, compiled statements
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return _percentiles(times)


async def _measure(component: str, url: str, path: str, breakdowns: tuple[str, ...], scoped: bool) -> list[tuple]:
    from services.components import spec_of
    from services.kit.app import build_app

    os.environ[f"{component.upper()}_DATABASE_URL"] = url
    os.environ.setdefault(f"{component.upper()}_LOG_LEVEL", "WARNING")  # no log line per request
    app = build_app(spec_of(component), background=False)
    rows: list[tuple[str, tuple[float, float], tuple[float, float] | None]] = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{component}", timeout=600) as http,
    ):

        def call(route: str, role: str, subject: str, params: dict | None = None):
            headers = caller_headers(role, subject)

            async def once():
                answer = await http.get(route, params=params, headers=headers)
                assert answer.status_code == 200, answer.text

            return once

        floor = await _timed(call("/healthz", "compliance_officer", "bench"))
        rows.append((f"{component} /healthz", floor, None))

        async def scan():
            async with app.state.engine.connect() as connection:
                await connection.exec_driver_sql(SCANS[component])

        rows.append(
            (f"{component} baseline: {SCANS[component].split(' FROM ')[1]} count(*)", await _timed(scan), floor)
        )
        callers = [("compliance_officer", "bench", "")]
        if scoped:
            callers.append(("relationship_manager", MANAGER, " as RM"))
        for days in WINDOWS:
            window = {"from": (END - timedelta(days=days)).isoformat(), "to": END.isoformat()}
            for by in (None, *breakdowns):
                for role, subject, as_whom in callers:
                    params = {**window, **({"by": by} if by else {})}
                    label = f"{component} {path.rsplit('/', 1)[1]} {days}d{f' by {by}' if by else ''}{as_whom}"
                    rows.append((label, await _timed(call(path, role, subject, params)), floor))
    return rows


def _measured(component: str, url: str, path: str, breakdowns: tuple[str, ...], scoped: bool) -> list[tuple]:
    measured = asyncio.run(_measure(component, url, path, breakdowns, scoped))
    _print(measured)
    return measured


async def _analyze(url: str) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def _print(results: list[tuple]) -> None:
    print(f"    p50 and p95 of {REPEATS} calls each (ms), beside the service's /healthz (ratio: p95 over its p95)")
    print(f"    {'route':<48}{'p50':>9}{'p95':>9}{'healthz p95':>13}{'ratio':>8}")
    for label, (p50, p95), floor in results:
        base = floor[1] if floor else None
        ratio = f"{p95 / base:>8.1f}" if base else f"{'':>8}"
        print(f"    {label:<48}{p50:>9.1f}{p95:>9.1f}{base or 0:>13.1f}{ratio}", flush=True)


def main() -> list[dict]:
    import logging

    from services.components import spec_of
    from services.kit.migrations import upgrade
    from tests.bench import entry

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    only = set(filter(None, os.environ.get("BENCH_KPI_ONLY", "").split(",")))
    results: list[tuple] = []
    for component, path, breakdowns, scoped in ROUTES:
        if only and component not in only:
            continue
        spec = spec_of(component)
        if REUSE:  # the database seeded by an earlier run, migrated to head
            url = databases.database_url(component, PREFIX)
            upgrade(spec.migrations, url, spec.metadata)
            asyncio.run(_analyze(url))
            results += _measured(component, url, path, breakdowns, scoped)
            continue
        url = asyncio.run(databases.recreate_one(component, prefix=PREFIX))
        upgrade(spec.migrations, url, spec.metadata)
        seeded = asyncio.run(_seed(component, url))
        print(
            f"bench_kpis: {component} seeded in {seeded:.1f} s ({CUSTOMERS:,} customers"
            + (f", {ANSWERS:,} survey answers)" if component == "feedback" else ")"),
            flush=True,
        )
        results += _measured(component, url, path, breakdowns, scoped)

    entries = []
    for label, (p50, p95), floor in results:
        base = floor[1] if floor else None
        entries.append(entry(f"KPI {label} p50", p50, "ms", floor[0] if floor else None))
        entries.append(entry(f"KPI {label} p95", p95, "ms", base))
    slow = [label for label, (_, p95), floor in results if floor and p95 >= 200 and "baseline" not in label]
    print(f"    routes at or over 200 ms p95: {', '.join(slow) or 'none'}", flush=True)
    return entries


if __name__ == "__main__":
    main()
