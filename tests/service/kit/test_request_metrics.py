"""Each request is counted and timed under its route template, method and status
(services.kit.observability.RequestContextMiddleware): the series an operator's error-rate and
latency alerts read (deploy/), with no customer id in any label. Read from the process's registry,
which a component serves on its metrics port (services/cli.py)."""

import uuid

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.service.profile.helpers import create_customer

READ = "/api/v1/customers/{customer_id}"


def samples() -> dict[tuple[str, tuple], float]:
    """(sample name, its labels) -> value, as the metrics port would serve them."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(REGISTRY).decode())
        for sample in family.samples
    }


def labels(**given: str) -> tuple:
    return tuple(sorted({"component": "profile", **given}.items()))


async def test_requests_are_counted_and_timed_per_route_method_and_status(service):
    profile = await service("profile")
    async with profile.client("admin", "admin-metrics") as http:
        customer_id = (await create_customer(http))["id"]
        before = samples()
        for _ in range(3):
            assert (await http.get(f"/api/v1/customers/{customer_id}")).status_code == 200
        assert (await http.get(f"/api/v1/customers/{uuid.uuid4()}")).status_code == 404
        after = samples()

    def grew(name: str, **given: str) -> float:
        key = (name, labels(**given))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("http_requests_total", method="GET", route=READ, status="200") == 3
    assert grew("http_requests_total", method="GET", route=READ, status="404") == 1
    assert grew("http_request_duration_seconds_count", method="GET", route=READ) == 4
    assert grew("http_request_duration_seconds_sum", method="GET", route=READ) > 0
    assert not any(customer_id in str(key) for key in after)  # templates only, never an id
