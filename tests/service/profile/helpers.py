"""Calls and observations shared by the profile's service-tier tests."""

import functools
from collections.abc import Mapping

import sqlalchemy as sa

from events.contracts import event_type
from events.contracts.envelope import Envelope
from events.kafka import event_headers
from tests.support import AsyncApiConformance, new_customer


async def create_customer(http, headers: Mapping[str, str] | None = None, **overrides) -> dict:
    """A new customer (tests.support.new_customer with `overrides`), created as `headers` say."""
    response = await http.post("/api/v1/customers", json=new_customer(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@functools.cache
def _conformance() -> AsyncApiConformance:
    return AsyncApiConformance()


async def announced(profile, name: str, customer_id: str) -> list[tuple[Envelope, str]]:
    """(envelope, Kafka key) of every `name` event about the customer in the outbox, oldest first.
    Each is checked against events/contracts/asyncapi.yaml as the relay would publish it (its topic,
    key and headers), as the system tier checks every record on its broker."""
    table = profile.spec.outbox.table
    query = (
        sa.select(table.c.id, table.c.aggregateid, table.c.type, table.c.payload)
        .where(table.c.aggregateid == customer_id, table.c.type.startswith(f"{name}.v"))
        .order_by(table.c.position)
    )
    async with profile.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    found = []
    for row in rows:
        version = row.type.rsplit(".v", 1)[1]
        topic = event_type(name, int(version)).topic
        headers = event_headers(row.id, name, version, profile.spec.outbox.source)
        assert _conformance().check(topic, row.aggregateid.encode(), row.payload.encode(), headers)
        found.append((Envelope.model_validate_json(row.payload), row.aggregateid))
    return found
