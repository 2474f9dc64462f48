"""The gateway's caches are bounded and expire entry by entry: a full cache drops its least
recently used entries, not everything it holds, and an entry is forgotten after its lifetime."""

import asyncio
import json
from types import SimpleNamespace
from typing import cast

from gateway.consent import ConsentChecker
from gateway.proxy import Gateway, ManagerAssignments
from gateway.upstream import UpstreamResponse


class Service:
    """An upstream answering every call with the same JSON body, counting the calls per URL."""

    def __init__(self, answer: dict):
        self.answer = answer
        self.asked: list[str] = []

    async def request(self, method, url, *, headers, body, timeout=None):
        self.asked.append(json.loads(body)["customer_id"] if body else url)
        return UpstreamResponse(200, {}, json.dumps(self.answer).encode())

    async def close(self) -> None:
        pass


class SmallChecker(ConsentChecker):
    MAX_CUSTOMERS = 2
    TTL_SECONDS = 0.2


def small_checker(service: Service) -> SmallChecker:
    checker = SmallChecker(
        upstream=service,
        consent_url="http://consent",
        bootstrap_servers="-",
        pseudonym_key=b"k" * 32,
        credential=lambda: {"X-Caller-Credential": "signed"},
    )
    checker.follower._current_as_of = float("inf")  # the eviction consumer is current throughout
    return checker


async def permits(checker: ConsentChecker, customer_id: str) -> bool:
    return await checker.permits(
        customer_id=customer_id, recipient="partner", purpose="servicing", categories=("basic",)
    )


async def test_a_full_permit_cache_drops_the_least_recently_used_customer_only():
    service = Service({"decision": "permit"})
    checker = small_checker(service)
    for customer in ("c-1", "c-2", "c-1", "c-3", "c-1", "c-2"):
        assert await permits(checker, customer)
    # c-1 stays cached throughout; c-3 displaced c-2 (the least recently used), then c-2 displaced c-3.
    assert service.asked == ["c-1", "c-2", "c-3", "c-2"]


async def test_a_cached_permit_expires_after_its_lifetime():
    service = Service({"decision": "permit"})
    checker = small_checker(service)
    assert await permits(checker, "c-1") and await permits(checker, "c-1")
    await asyncio.sleep(SmallChecker.TTL_SECONDS * 1.5)
    assert await permits(checker, "c-1")
    assert service.asked == ["c-1", "c-1"]


class SmallAssignments(ManagerAssignments):
    MAX_ENTRIES = 2
    TTL_SECONDS = 0.2


def assignments(service: Service) -> SmallAssignments:
    gateway = SimpleNamespace(
        settings=SimpleNamespace(upstream_url=lambda name: f"http://{name}"),
        upstream=service,
        own_credential=lambda: {},
    )
    return SmallAssignments(cast(Gateway, gateway))  # the parts of a gateway the cache uses


def asked_customers(service: Service) -> list[str]:
    return [url.split("/")[-2] for url in service.asked]


async def test_a_full_manager_cache_drops_the_least_recently_used_customer_only():
    service = Service({"relationship_manager_id": "rm-1"})
    managers = assignments(service)
    for customer in ("c-1", "c-2", "c-1", "c-3", "c-1", "c-2"):
        assert await managers.manager_of(customer) == "rm-1"
    assert asked_customers(service) == ["c-1", "c-2", "c-3", "c-2"]


async def test_a_manager_is_asked_again_after_the_lifetime():
    service = Service({"relationship_manager_id": None})
    managers = assignments(service)
    assert await managers.manager_of("c-1") is None and await managers.manager_of("c-1") is None
    await asyncio.sleep(SmallAssignments.TTL_SECONDS * 1.5)
    await managers.manager_of("c-1")
    assert asked_customers(service) == ["c-1", "c-1"]
