"""How a core-banking system publishes to the platform: posted transactions and balance
snapshots on `crm.corebanking.activity` (schemas: events/contracts/asyncapi.yaml).

    python -m events.examples.corebanking_producer --bootstrap 127.0.0.1:9092 --customer <id>

Rules for producers:
- one JSON envelope per message (`id`, `type`, `version`, `source`, `time`, `customer_id`,
  `payload`); the message key is the customer id, so one customer's events stay in order;
- a new `id` per event, kept when re-sending: consumers apply each id once;
- payloads carry ids, codes and amounts only: no names, account holder data or free text;
- a message that is not a valid envelope or payload goes to `crm.dead-letter` with the reason
  in its `dlq_reason` header: watch that topic after a release.
"""

import argparse
import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from events.contracts import BalanceSnapshotV1, TransactionPostedV1, event_type, new_event
from events.kafka import headers_for, producer


def example_events(customer_id: str) -> list:
    moment = datetime.now(UTC)
    return [
        new_event(
            "transaction.posted",
            TransactionPostedV1(
                customer_id=customer_id,
                transaction_id=str(uuid.uuid4()),
                account_id="ACC-001",
                amount=Decimal("42.50"),
                direction="debit",
                posted_at=moment,
                category="card",
            ),
            source="corebanking",
        ),
        new_event(
            "balance.snapshot",
            BalanceSnapshotV1(customer_id=customer_id, account_id="ACC-001", balance=Decimal("1250.00"), as_of=moment),
            source="corebanking",
        ),
    ]


async def publish(bootstrap_servers: str, customer_id: str) -> None:
    client = producer(bootstrap_servers, client_id="corebanking-example")
    await client.start()
    try:
        for envelope in example_events(customer_id):
            await client.send_and_wait(
                event_type(envelope.type, envelope.version).topic,
                key=envelope.customer_id.encode(),
                value=envelope.model_dump_json().encode(),
                headers=headers_for(envelope),
            )
            print(f"published {envelope.type} {envelope.id}")
    finally:
        await client.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--customer", required=True)
    args = parser.parse_args()
    asyncio.run(publish(args.bootstrap, args.customer))
