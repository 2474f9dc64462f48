"""The hot routes' own cost, in process: CPU per call through each app's whole ASGI stack
(middleware, routing, the route, its database round trip; no sockets, no background tasks; for
the gateway's read, the service's answer stubbed, so that the cell is the gateway's work alone),
beside `/healthz` of the same app, interleaved in rounds; and the gateway's call to a service on
its own (over loopback, to a server in another process that answers at once). Steadier than the
HTTP cells of `make bench` on a shared machine: it times this process only, which nothing else
shares.

    python -m tests.bench_routes        (or BENCH_ONLY=routes make bench)
    BENCH_ROUTE_CALLS   calls per cell and round (default 2000); BENCH_ROUNDS as in tests/bench.py
"""

import asyncio
import concurrent.futures
import contextlib
import gc
import json
import multiprocessing
import os
import time
from collections.abc import Callable

from services.kit.identity import GATEWAY_ROLE, caller_headers
from tests import databases
from tests.support import new_customer

CALLS = int(os.environ.get("BENCH_ROUTE_CALLS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2")) * 2
PREFIX = f"{databases.PREFIX}_bench_routes"
CUSTOMER_ID = "bench-routes-customer"


def _caller(role: str, subject: str, **claims) -> list[tuple[bytes, bytes]]:
    """The caller's credential header, and a JSON content type (for the calls with a body)."""
    signed = [(k.lower().encode(), v.encode()) for k, v in dict(caller_headers(role, subject, **claims)).items()]
    return [*signed, (b"content-type", b"application/json")]


def _asgi_call(app, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> Callable:
    """A coroutine function making one call to `app` as uvicorn would, returning the status and
    the body."""
    all_headers = [(b"host", b"bench"), (b"content-length", str(len(body)).encode()), *headers]

    async def call() -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": all_headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        status, answer = 0, b""

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            nonlocal status, answer
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                answer += message.get("body", b"")

        await app(scope, receive, send)
        return status, answer

    return call


async def _cpu_per_call(cells: dict[str, Callable]) -> dict[str, float]:
    """Microseconds of this process's CPU per call, the best round of each cell (a round that a
    collection or a neighbour's burst slowed tells about them, not the route)."""
    best: dict[str, float] = {}
    for _ in range(ROUNDS):
        for name, call in cells.items():
            started = time.process_time()
            for _ in range(CALLS):
                await call()
            best[name] = min(best.get(name, float("inf")), (time.process_time() - started) / CALLS * 1e6)
    return best


@contextlib.asynccontextmanager
async def _app(component: str):
    from services.components import spec_of
    from services.kit.app import build_app

    os.environ[f"{component.upper()}_DATABASE_URL"] = await databases.migrated_one(component, prefix=PREFIX)
    app = build_app(spec_of(component), background=False)
    async with app.router.lifespan_context(app):
        # As a served process does after start-up (services/kit/app.py): what start-up built is
        # kept out of the collector's full passes.
        gc.collect()
        gc.freeze()
        yield app


async def _profile_read() -> dict[str, float]:
    async with _app("profile") as app:
        create = _asgi_call(app, "POST", "/api/v1/customers", _caller("admin", "bench"), _json(new_customer()))
        status, created = await create()
        if status != 201:
            raise RuntimeError(f"bench_routes: creating a customer answered {status}")
        customer_id = json.loads(created)["id"]
        read = _asgi_call(app, "GET", f"/api/v1/customers/{customer_id}", _caller("admin", "bench", reason="bench"))
        await _expect(read, 200, "the customer read")
        return await _cpu_per_call({"healthz": _asgi_call(app, "GET", "/healthz", []), "read": read})


async def _consent_decision() -> dict[str, float]:
    async with _app("consent") as app:
        url = os.environ["CONSENT_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
        await _execute(url, "INSERT INTO known_customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING")
        question = {"customer_id": CUSTOMER_ID, "recipient": "partner.bench", "purpose": "marketing"}
        grant = _asgi_call(
            app,
            "POST",
            "/api/v1/consents",
            _caller("customer", CUSTOMER_ID, customer_scope=CUSTOMER_ID),
            body=_json({**question, "data_categories": ["basic"], "channel": "mobile"}),
        )
        await _expect(grant, 201, "granting a consent")
        decide = _asgi_call(
            app,
            "POST",
            "/api/v1/decisions",
            _caller(GATEWAY_ROLE, "gateway"),
            body=_json({**question, "data_categories": ["basic"]}),
        )
        await _expect(decide, 200, "the decision")
        return await _cpu_per_call({"healthz": _asgi_call(app, "GET", "/healthz", []), "decision": decide})


class _Answering:
    """Stands in for the services behind the gateway: the same answer to every call, at no cost,
    so the gateway's own work is what a cell times."""

    def __init__(self, answer):
        self.answer = answer

    async def request(self, method: str, url: str, *, headers: dict, body: bytes, timeout=None):
        return self.answer

    async def close(self) -> None:
        pass


async def _gateway_read() -> dict[str, float]:
    """The gateway's own cost of a customer read: authentication, routing, masking, the log line
    and metrics, its whole ASGI stack, with profile's answer (an access profile recorded) stubbed."""
    from gateway.auth import issue_dev_token
    from gateway.upstream import UpstreamResponse

    os.environ["GATEWAY_RATE_LIMITS"] = ""  # as in `make bench`: the caller's limit would refuse most calls
    async with _app("gateway") as app:
        record = _json({"id": CUSTOMER_ID, **new_customer(), "segment": "mass", "tier": "mass"})
        app.state.gateway.upstream = _Answering(
            UpstreamResponse(200, {"content-type": "application/json", "etag": '"1"'}, record, "profile")
        )
        token = issue_dev_token(role="service_agent", subject="bench-agent", ttl_seconds=3600)
        read = _asgi_call(
            app, "GET", f"/api/v1/customers/{CUSTOMER_ID}", [(b"authorization", f"Bearer {token}".encode())]
        )
        await _expect(read, 200, "the gateway's read")
        return await _cpu_per_call({"healthz": _asgi_call(app, "GET", "/healthz", []), "read": read})


def _answer_every_request(ports: "multiprocessing.Queue[int]", answer: bytes) -> None:
    """A server answering each HTTP/1.1 request on a kept-alive connection with `answer`, at
    next to no cost: the far end of the upstream cell, in a process of its own."""

    class Answering(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport, self.pending = transport, b""

        def data_received(self, data: bytes) -> None:
            # Requests without a body: each ends at a blank line.
            *requests, self.pending = (self.pending + data).split(b"\r\n\r\n")
            self.transport.write(answer * len(requests))

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Answering, "127.0.0.1", 0)
        ports.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(serve())


async def _upstream_call() -> dict[str, float]:
    """The gateway's call to a service (gateway/upstream.py), by its default transport and by
    aiohttp's pooled session, interleaved: this process's CPU per call, to a server elsewhere that
    answers a customer record at once. With the gateway's own work (the cell above) and uvicorn's,
    it is what a read through the gateway adds."""
    from gateway.upstream import open_upstream

    record = _json({"id": CUSTOMER_ID, **new_customer(), "segment": "mass", "tier": "mass"})
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(record),
        record,
    )
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    server = spawn.Process(target=_answer_every_request, args=(ports, answer), daemon=True)
    server.start()
    transports = {name: open_upstream(name, pool_size=10, timeout_seconds=5.0) for name in ("http11", "aiohttp")}
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=30)}/api/v1/customers/{CUSTOMER_ID}"
        headers = dict(caller_headers("service_agent", "bench-agent"))

        def caller(name: str) -> Callable:
            async def call() -> tuple[int, bytes]:
                answered = await transports[name].request("GET", url, headers=headers, body=b"")
                return answered.status, answered.body

            return call

        calls = {name: caller(name) for name in transports}
        for name, call in calls.items():
            await _expect(call, 200, f"the upstream call ({name})")
        return await _cpu_per_call(calls)
    finally:
        for upstream in transports.values():
            await upstream.close()
        server.terminate()


def _json(value: dict) -> bytes:
    return json.dumps(value).encode()


async def _expect(call: Callable, status: int, what: str) -> None:
    answered, body = await call()
    if answered != status:
        raise RuntimeError(f"bench_routes: {what} answered {answered}: {body[:300]!r}")


async def _execute(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement, CUSTOMER_ID)
    finally:
        await connection.close()


def _measured(name: str) -> dict[str, float]:
    # Services log one line per request at INFO, as in production: here to nowhere.
    os.environ.setdefault("LOG_LEVEL", "INFO")
    with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere):
        return asyncio.run(globals()[name]())


def _in_a_process_of_its_own(name: str) -> dict[str, float]:
    """Each app measured in a fresh process: one app's objects and warm-up skewed the other's
    figures by a quarter when both ran in one."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as process:
        return process.submit(_measured, name).result()


def main() -> list[dict]:
    from tests.bench import entry

    read = _in_a_process_of_its_own("_profile_read")
    decision = _in_a_process_of_its_own("_consent_decision")
    gateway = _in_a_process_of_its_own("_gateway_read")
    upstream = _in_a_process_of_its_own("_upstream_call")
    print(
        f"\nHot routes in process ({CALLS} calls per cell, best of {ROUNDS} interleaved rounds; CPU of this process)\n"
        f"  profile:  /healthz {read['healthz']:.0f} us, customer read {read['read']:.0f} us\n"
        f"  consent:  /healthz {decision['healthz']:.0f} us, decision {decision['decision']:.0f} us\n"
        f"  gateway:  /healthz {gateway['healthz']:.0f} us, customer read {gateway['read']:.0f} us (profile's answer stubbed)\n"
        f"  gateway:  its call to a service (loopback, the far end answering at once) {upstream['http11']:.0f} us,"
        f" by aiohttp's session {upstream['aiohttp']:.0f} us",
        flush=True,
    )
    return [
        entry("routes: profile read in process, CPU us per call (of /healthz)", read["read"], "us", read["healthz"]),
        entry(
            "routes: consent decision in process, CPU us per call (of /healthz)",
            decision["decision"],
            "us",
            decision["healthz"],
        ),
        entry(
            "routes: gateway read in process, service stubbed, CPU us per call (of /healthz)",
            gateway["read"],
            "us",
            gateway["healthz"],
        ),
        entry(
            "routes: gateway's call to a service, CPU us per call (of aiohttp's session)",
            upstream["http11"],
            "us",
            upstream["aiohttp"],
        ),
    ]


if __name__ == "__main__":
    from tests.bench import print_entries

    print_entries(main())
