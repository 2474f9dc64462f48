"""Example producer for core-banking teams: announce that a customer opened or closed a product.

    python -m events.examples.publish_holding opened --customer C-1 --holding CB-778 --product FUND-MMF --amount 5000
    python -m events.examples.publish_holding closed --customer C-1 --holding CB-778 --product FUND-MMF

What the CRM expects on `crm.corebanking.holdings` (see events/contracts/asyncapi.yaml):
- the JSON envelope (`id`, `type`, `version`, `source`, `time`, `customer_id`, `payload`), the
  customer id as the message key (one customer's events stay in order), the event id also in
  the `event_id` header;
- `holding_id` is your own id of the contract or account: the CRM de-duplicates on the event id
  and keys holdings on `holding_id`, so re-sending either is harmless;
- ids, codes and amounts only: no names, account numbers or other personal data.
"""

import argparse
import asyncio
from decimal import Decimal

from aiokafka import AIOKafkaProducer

from events.contracts import CoreBankingProductClosedV1, CoreBankingProductOpenedV1, event_type, new_event
from services.kit.clock import now


def build(args: argparse.Namespace):
    payload: CoreBankingProductOpenedV1 | CoreBankingProductClosedV1
    if args.change == "opened":
        payload = CoreBankingProductOpenedV1(
            customer_id=args.customer,
            holding_id=args.holding,
            product_code=args.product,
            amount=Decimal(args.amount),
            opened_at=now(),
        )
    else:
        payload = CoreBankingProductClosedV1(
            customer_id=args.customer, holding_id=args.holding, product_code=args.product, closed_at=now()
        )
    return new_event(f"corebanking.product_{args.change}", payload, source="corebanking")


async def publish(args: argparse.Namespace) -> None:
    envelope = build(args)
    # The CRM de-duplicates by event id, so the idempotent producer is not needed (some brokers lack it).
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap_servers, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            event_type(envelope.type, envelope.version).topic,
            key=envelope.customer_id.encode(),
            value=envelope.model_dump_json().encode(),
            headers=[
                ("event_id", str(envelope.id).encode()),
                ("event_type", envelope.type.encode()),
                ("event_version", str(envelope.version).encode()),
                ("source", envelope.source.encode()),
            ],
        )
    finally:
        await producer.stop()
    print(f"published {envelope.type} {envelope.id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("change", choices=["opened", "closed"])
    parser.add_argument("--customer", required=True)
    parser.add_argument("--holding", required=True)
    parser.add_argument("--product", required=True)
    parser.add_argument("--amount", default="0")
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    asyncio.run(publish(parser.parse_args()))


if __name__ == "__main__":
    main()
