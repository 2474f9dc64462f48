"""The gateway's pooled connections to the services (gateway/upstream.py), against real servers
on local sockets. One pool serves every caller, so nothing a service sends back may travel with
the next caller's call; the default transport keeps connections alive, and must neither lose a
call to a connection the service is closing nor send a non-idempotent call twice."""

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.upstream import AiohttpUpstream, Http11Upstream, UpstreamError, open_upstream

TRANSPORTS = ("http11", "aiohttp")


@pytest.fixture
async def service_setting_a_cookie():
    """A service that sets a cookie on every answer and echoes the Cookie and Accept-Encoding
    headers it was sent."""

    async def answer(request: web.Request) -> web.Response:
        response = web.json_response(
            {"cookie": request.headers.get("Cookie"), "accept_encoding": request.headers.get("Accept-Encoding")},
            headers={"X-Access-Recorded": "profile"},
        )
        response.set_cookie("session", "caller-a-secret")
        return response

    app = web.Application()
    app.router.add_get("/echo", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]  # the port the system gave
    # By name, as the services are reached (a client keeps no cookies for a bare IP address).
    yield f"http://localhost:{port}/echo"
    await runner.cleanup()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_cookie_a_service_sets_is_not_sent_with_the_next_call(service_setting_a_cookie, transport):
    upstream = open_upstream(transport, pool_size=2, timeout_seconds=5)
    try:
        first = await upstream.request("GET", service_setting_a_cookie, headers={}, body=b"")
        second = await upstream.request("GET", service_setting_a_cookie, headers={}, body=b"")
    finally:
        await upstream.close()
    assert b"caller-a-secret" not in second.body
    assert b'"cookie": null' in second.body
    # Answers come as the service sent them (the gateway masks them): none asked compressed.
    assert b'"accept_encoding": null' in first.body
    # The service's word that it recorded the access reaches the gateway, not the caller's headers.
    assert first.recorded_by == "profile"
    assert "x-access-recorded" not in first.headers
    assert first.headers["content-type"].startswith("application/json")
    assert "set-cookie" not in first.headers


async def test_the_transport_is_chosen_by_name():
    for name, kind in (("aiohttp", AiohttpUpstream), ("http11", Http11Upstream)):
        upstream = open_upstream(name, 1, 1)
        assert isinstance(upstream, kind)
        await upstream.close()


class RawService:
    """An HTTP/1.1 server on a local port whose answer to each request `answer(n, request)`
    decides (n counts requests over every connection; None: close the connection unanswered;
    b"": never answer), `delay` seconds after it arrived, closing the connection after each
    answer if `then_close` (without saying so, as a service does with an idle connection). Counts the connections it accepted and the most open at once."""

    def __init__(self, answer: Callable[[int, bytes], bytes | None], delay: float, then_close: bool):
        self.answer, self.delay, self.then_close = answer, delay, then_close
        self.requests: list[bytes] = []
        self.connections = self.open = self.most_open = self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                await asyncio.sleep(self.delay)
                answer = self.answer(len(self.requests), request)
                if answer is None:
                    break
                if answer:
                    writer.write(answer)
                    await writer.drain()
                if self.then_close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


@pytest.fixture
async def start_raw() -> AsyncIterator[Callable[..., RawService]]:
    servers: list[asyncio.Server] = []

    async def start(
        answer: Callable[[int, bytes], bytes | None],
        delay: float = 0.0,
        then_close: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> RawService:
        service = RawService(answer, delay, then_close)
        server = await asyncio.start_server(service._serve, "127.0.0.1", 0, ssl=tls)
        service.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return service

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def ok(body: bytes = b"{}", *headers: bytes) -> bytes:
    head = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n%bcontent-length: %d\r\n\r\n%b" % (
        head,
        len(body),
        body,
    )


async def bodies_of_gets(url: str, calls: int = 2) -> list[bytes]:
    """The answers' bodies to `calls` GETs of `url`, one after another, through a pool of one."""
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    try:
        return [(await upstream.request("GET", url, headers={}, body=b"")).body for _ in range(calls)]
    finally:
        await upstream.close()


async def test_calls_share_a_kept_alive_connection_and_the_body_goes_whole(start_raw):
    service = await start_raw(lambda n, request: ok(request.rsplit(b"\r\n\r\n", 1)[1] or b"{}"))
    upstream = Http11Upstream(pool_size=4, timeout_seconds=5)
    try:
        url = f"http://127.0.0.1:{service.port}/api/v1/customers"
        created = await upstream.request("POST", url, headers={"content-type": "application/json"}, body=b'{"a":1}')
        read = await upstream.request("GET", url + "/c-1?fields=a", headers={"x-request-id": "r-1"}, body=b"")
    finally:
        await upstream.close()
    assert (created.status, created.body) == (200, b'{"a":1}')
    assert read.body == b"{}"
    assert service.connections == 1
    first, second = service.requests
    assert first.startswith(b"POST /api/v1/customers HTTP/1.1\r\n") and b"content-length: 7\r\n" in first
    assert second.startswith(b"GET /api/v1/customers/c-1?fields=a HTTP/1.1\r\n")
    assert b"x-request-id: r-1\r\n" in second and b"content-length" not in second


async def test_a_chunked_answer_is_read_whole_and_a_path_is_sent_encoded(start_raw):
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    service = await start_raw(lambda n, request: chunked)
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    try:
        answer = await upstream.request("GET", f"http://127.0.0.1:{service.port}/a b/é", headers={}, body=b"")
    finally:
        await upstream.close()
    assert answer.body == b"abcde"
    assert service.requests[0].startswith(b"GET /a%20b/%C3%A9 HTTP/1.1\r\n")


@pytest.mark.parametrize(("method", "sent_again"), [("GET", True), ("PUT", True), ("POST", False), ("PATCH", False)])
async def test_a_call_on_a_connection_the_service_closed_goes_again_only_if_idempotent(start_raw, method, sent_again):
    # The service closes the kept-alive connection as the second call arrives on it, unanswered.
    service = await start_raw(lambda n, request: None if n == 2 else ok())
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    url = f"http://127.0.0.1:{service.port}/x"
    try:
        await upstream.request(method, url, headers={}, body=b"{}")
        if sent_again:
            assert (await upstream.request(method, url, headers={}, body=b"{}")).status == 200
        else:
            with pytest.raises(UpstreamError) as failed:
                await upstream.request(method, url, headers={}, body=b"{}")
            assert not failed.value.timed_out
            # The pool is not left holding the dead connection: the next call gets a new one.
            assert (await upstream.request(method, url, headers={}, body=b"{}")).status == 200
    finally:
        await upstream.close()
    assert service.connections == 2 and len(service.requests) == 3


async def test_a_connection_the_service_has_closed_is_not_used_for_the_next_call(start_raw):
    service = await start_raw(lambda n, request: ok(), then_close=True)
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    url = f"http://127.0.0.1:{service.port}/x"
    try:
        for _ in range(3):
            # A POST is never sent twice: it succeeds only if it goes out on a live connection.
            assert (await upstream.request("POST", url, headers={}, body=b"{}")).status == 200
            await asyncio.sleep(0.05)  # the service's close arrives
    finally:
        await upstream.close()
    assert service.connections == 3 and len(service.requests) == 3


async def test_a_service_that_does_not_answer_times_out_and_its_connection_is_not_reused(start_raw):
    service = await start_raw(lambda n, request: b"" if n == 1 else ok(b'{"n":%d}' % n))
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    url = f"http://127.0.0.1:{service.port}/x"
    try:
        with pytest.raises(UpstreamError) as failed:
            await upstream.request("GET", url, headers={}, body=b"", timeout=0.2)
        answer = await upstream.request("GET", url, headers={}, body=b"")
    finally:
        await upstream.close()
    assert failed.value.timed_out
    assert answer.body == b'{"n":2}' and service.connections == 2


async def test_a_refused_connection_is_an_upstream_error():
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    try:
        with pytest.raises(UpstreamError) as failed:
            await upstream.request("GET", "http://127.0.0.1:1/x", headers={}, body=b"")
    finally:
        await upstream.close()
    assert not failed.value.timed_out


async def test_a_malformed_answer_is_an_upstream_error(start_raw):
    service = await start_raw(lambda n, request: b"NOT HTTP AT ALL\r\n\r\n")
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    try:
        with pytest.raises(UpstreamError):
            await upstream.request("GET", f"http://127.0.0.1:{service.port}/x", headers={}, body=b"")
    finally:
        await upstream.close()


async def test_no_more_calls_than_the_pool_holds_are_open_at_once(start_raw):
    service = await start_raw(lambda n, request: ok(), delay=0.02)
    upstream = Http11Upstream(pool_size=2, timeout_seconds=5)
    try:
        answers = await asyncio.gather(
            *(upstream.request("GET", f"http://127.0.0.1:{service.port}/x", headers={}, body=b"") for _ in range(20))
        )
    finally:
        await upstream.close()
    assert [a.status for a in answers] == [200] * 20
    assert service.most_open == 2 and service.connections == 2


async def test_a_connection_idle_too_long_is_closed_rather_than_used(start_raw):
    service = await start_raw(lambda n, request: ok())
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5, idle_seconds=0.1)
    url = f"http://127.0.0.1:{service.port}/x"
    try:
        await upstream.request("GET", url, headers={}, body=b"")
        await upstream.request("GET", url, headers={}, body=b"")
        await asyncio.sleep(0.3)
        await upstream.request("GET", url, headers={}, body=b"")
    finally:
        await upstream.close()
    assert service.connections == 2


async def test_an_answer_asking_to_close_is_not_followed_by_a_call_on_that_connection(start_raw):
    service = await start_raw(lambda n, request: ok(b"{}", b"connection: close"))
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    url = f"http://127.0.0.1:{service.port}/x"
    try:
        for _ in range(3):
            assert (await upstream.request("GET", url, headers={}, body=b"")).status == 200
    finally:
        await upstream.close()
    assert service.connections == 3


async def test_an_answer_sent_with_one_nobody_asked_for_is_not_followed_by_a_call_on_that_connection(start_raw):
    # The first answer arrives with the head of a second nobody asked for, in the same bytes: on
    # that connection, the next call's answer would be read as the rest of the second one.
    unsolicited = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 80\r\n\r\n{"
    service = await start_raw(lambda n, request: ok(b'{"n": %d}' % n) + (unsolicited if n == 1 else b""))
    assert await bodies_of_gets(f"http://127.0.0.1:{service.port}/x") == [b'{"n": 1}', b'{"n": 2}']
    assert service.connections == 2


async def test_a_header_holding_a_line_break_is_refused_before_anything_is_sent(start_raw):
    service = await start_raw(lambda n, request: ok())
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    try:
        with pytest.raises(ValueError, match="line break"):
            await upstream.request(
                "GET", f"http://127.0.0.1:{service.port}/x", headers={"x-a": "v\r\nx-role: admin"}, body=b""
            )
    finally:
        await upstream.close()
    assert service.requests == []


async def test_the_host_header_names_the_service_without_any_credentials_in_its_url(start_raw):
    service = await start_raw(lambda n, request: ok())
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    try:
        await upstream.request("GET", f"http://user:secret@127.0.0.1:{service.port}/x", headers={}, body=b"")
    finally:
        await upstream.close()
    assert f"host: 127.0.0.1:{service.port}\r\n".encode() in service.requests[0]
    assert b"secret" not in service.requests[0]


async def test_a_call_still_out_when_the_pool_closes_is_answered_and_its_connection_closed(start_raw):
    service = await start_raw(lambda n, request: ok(), delay=0.2)
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    call = asyncio.create_task(upstream.request("GET", f"http://127.0.0.1:{service.port}/x", headers={}, body=b""))
    await asyncio.sleep(0.05)
    await upstream.close()
    assert (await call).status == 200
    await asyncio.sleep(0.1)
    assert service.open == 0


@pytest.fixture
def localhost_certificate(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A TLS server context for a self-signed certificate naming `localhost` only (not
    127.0.0.1), and the certificate's file, for a client to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = tmp_path / "service.pem", tmp_path / "service.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certificate_file, key_file)
    return server, certificate_file


async def test_an_https_service_is_reached_over_tls_on_a_kept_alive_connection(
    start_raw, localhost_certificate, monkeypatch
):
    server_tls, certificate_file = localhost_certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate_file))  # the trust store the default context reads
    service = await start_raw(lambda n, request: ok(b'{"n": %d}' % n), tls=server_tls)
    assert await bodies_of_gets(f"https://localhost:{service.port}/x") == [b'{"n": 1}', b'{"n": 2}']
    assert service.connections == 1
    assert f"host: localhost:{service.port}\r\n".encode() in service.requests[0]


@pytest.mark.parametrize(
    ("trusted", "host"),
    [(False, "localhost"), (True, "127.0.0.1")],
    ids=["a certificate the trust store does not hold", "a certificate for another name"],
)
async def test_an_https_service_whose_certificate_does_not_verify_gets_no_call(
    start_raw, localhost_certificate, monkeypatch, tmp_path, trusted, host
):
    server_tls, certificate_file = localhost_certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate_file if trusted else tmp_path / "no-such-file.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))  # no system certificates either
    service = await start_raw(lambda n, request: ok(), tls=server_tls)
    upstream = Http11Upstream(pool_size=1, timeout_seconds=5)
    try:
        with pytest.raises(UpstreamError) as failed:
            await upstream.request("GET", f"https://{host}:{service.port}/x", headers={}, body=b"")
    finally:
        await upstream.close()
    assert not failed.value.timed_out
    assert service.requests == []
