"""What tracing costs per request: one component in process (churn, on a SQLite file, through
its ASGI app: server span, SQL spans, request log line), each cell in a fresh process because
the tracer provider is installed once per process.

    python -m tests.bench_tracing          (BENCH_TRACING_REQUESTS, default 2000)

Cells: tracing not exported (the default: spans get ids, nothing is recorded) as the baseline,
and spans recorded and written to a JSON-lines file (what an OTLP exporter also pays for, minus
the network)."""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

REQUESTS = int(os.environ.get("BENCH_TRACING_REQUESTS", "2000"))


async def _run_cell() -> float:
    import httpx

    from services.components import spec_of
    from services.kit.app import build_app
    from services.kit.identity import caller_headers
    from services.kit.migrations import upgrade

    spec = spec_of("churn")
    await asyncio.to_thread(upgrade, spec.migrations, spec.settings.database_url, spec.metadata)
    app = build_app(spec, background=False)
    async with app.router.lifespan_context(app):
        # Signed as the gateway signs (services answer only callers it vouches for).
        headers = dict(caller_headers("relationship_manager", "rm-1"))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://churn", headers=headers
        ) as http:
            for _ in range(100):  # warm-up
                await http.get("/api/v1/customers/c-1/churn-risk")
            started = time.perf_counter()
            for _ in range(REQUESTS):
                await http.get("/api/v1/customers/c-1/churn-risk")
            return (time.perf_counter() - started) / REQUESTS * 1e6


def _cell(trace_dir: str) -> float:
    with tempfile.TemporaryDirectory() as workdir:
        env = {
            **os.environ,
            "CHURN_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/churn.db",
            "CRM_TRACE_DIR": trace_dir,
            "OTEL_EXPORTER_OTLP_ENDPOINT": "",
            "LOG_LEVEL": "WARNING",
            "CRM_ENVIRONMENT": "development",
        }
        out = subprocess.run(
            [sys.executable, "-m", "tests.bench_tracing", "--cell"], env=env, capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])["us_per_request"]


def main() -> list[dict]:
    baseline = _cell("")
    with tempfile.TemporaryDirectory() as spans:
        recorded = _cell(spans)
    print(f"tracing cost, churn in process, {REQUESTS} requests each (GET churn-risk, one SQL query, 404):")
    print(f"  not exported (default)        {baseline:8.0f} us/request")
    print(f"  recorded, JSON-lines file     {recorded:8.0f} us/request  ({recorded / baseline:.2f}x)")
    return [
        {
            "cell": "tracing not exported (baseline)",
            "value": round(baseline, 1),
            "unit": "us/request",
            "baseline": None,
            "ratio": None,
        },
        {
            "cell": "tracing recorded to file",
            "value": round(recorded, 1),
            "unit": "us/request",
            "baseline": round(baseline, 1),
            "ratio": round(recorded / baseline, 3),
        },
    ]


if __name__ == "__main__":
    if "--cell" in sys.argv:
        print(json.dumps({"us_per_request": asyncio.run(_run_cell())}))
    else:
        main()
