"""`make bench`'s load generator (tests/bench.py) against a real HTTP server (uvicorn, in this
process): every request it counts was answered exactly once, an answer with the wrong status or
body is an error, a server that closes the connection is reconnected to, each fresh body goes out
whole, and a request left unanswered is an error instead of a hung bench. Each test runs on the
event loop the bench runs on (uvloop where installed), through `bench._run_async`."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from tests import bench
from tests.bench import Cell, Tally, load
from tests.support import eventually


class Recorder:
    """A raw ASGI app: /flaky answers 503 to every other request, /close asks to close the
    connection after each answer, /echo answers the request's body, /silent never answers.
    Keeps the status of each answer and the bodies it received."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[bytes] = []
        self.connections: set[tuple[str, int]] = set()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.connections.add(scope["client"])
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path, headers = scope["path"], [(b"content-type", b"text/plain")]
        if path == "/silent":
            await asyncio.sleep(3600)
        status, content = 200, b"fine"
        if path == "/flaky" and len(self.statuses) % 2:
            status, content = 503, b"busy"
        elif path == "/close":
            headers.append((b"connection", b"close"))
        elif path == "/echo":
            self.bodies.append(body)
            content = body
        self.statuses.append(status)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


@contextlib.asynccontextmanager
async def serving(app: Recorder) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())

    def started() -> int:
        assert server.started
        return server.servers[0].sockets[0].getsockname()[1]

    port = await eventually(started, interval=0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


async def loaded(path: str, clients: int, seconds: float) -> tuple[Recorder, Tally]:
    """GET `path` from `clients` clients for `seconds`: the server's record and the tally."""
    app, tally = Recorder(), Tally()
    async with serving(app) as url:
        await load(Cell("GET", f"{url}{path}"), clients, seconds, tally)
    return app, tally


def test_each_counted_request_was_answered_once_and_wrong_statuses_are_errors():
    async def scenario() -> None:
        app, tally = await loaded("/flaky", 3, 0.3)
        measured = app.statuses[bench.WARM_UP_REQUESTS :]
        assert len(tally.latencies) == len(measured) > 20
        assert tally.errors == measured.count(503) > 0
        assert len(app.connections) == 3  # one keep-alive connection per client

    bench._run_async(scenario())


def test_a_server_that_closes_each_connection_is_reconnected_to():
    async def scenario() -> None:
        app, tally = await loaded("/close", 2, 0.3)
        assert tally.errors == 0
        assert len(tally.latencies) + bench.WARM_UP_REQUESTS == len(app.statuses)
        # The server closes each connection after one answer, so every answer beyond the first two
        # came on a connection opened again. Counted by client address, connections can be fewer
        # than answers: on loopback the system may give a closed connection's port to a new one.
        assert len(tally.latencies) > 2 and len(app.connections) > 2

    bench._run_async(scenario())


def test_each_fresh_body_arrives_whole_and_the_answer_body_is_checked():
    async def scenario() -> None:
        app = Recorder()
        numbers = iter(range(1_000_000))

        def body() -> bytes:
            return b'{"n": %d, "padding": "%s"}' % (next(numbers), b"x" * 5000)

        async with serving(app) as url:
            checked, refused = Tally(), Tally()
            await load(
                Cell("POST", f"{url}/echo", {"content-type": "application/json"}, body, ok_body=b"xxxx"),
                2,
                0.2,
                checked,
            )
            await load(Cell("POST", f"{url}/echo", body=body, ok_body=b"not in the answer"), 1, 0.1, refused)
        assert checked.errors == 0 and len(checked.latencies) > 0
        assert refused.errors == len(refused.latencies) > 0
        assert len(set(app.bodies)) == len(app.bodies)
        assert all(b.startswith(b'{"n": ') and b.endswith(b'x"}') and len(b) > 5000 for b in app.bodies)

    bench._run_async(scenario())


def test_a_request_left_unanswered_is_an_error_and_the_cell_ends(monkeypatch):
    async def scenario() -> None:
        monkeypatch.setattr(bench, "WARM_UP_REQUESTS", 0)
        monkeypatch.setattr(bench, "ANSWER_TIMEOUT_SECONDS", 0.2)
        async with asyncio.timeout(10):
            _, tally = await loaded("/silent", 4, 0.1)
        assert tally.errors == 4

    bench._run_async(scenario())
