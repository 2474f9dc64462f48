"""Facts to JSON and back, exactly: what a decision is stored with and replayed from."""

from dataclasses import asdict, fields
from decimal import Decimal

from services.recommendation.rules import CustomerFacts, HoldingFacts, Limits, ProductFacts


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def dump(facts) -> dict:
    return _plain(asdict(facts))


def _load(cls, data: dict):
    values = {}
    for f in fields(cls):
        value = data[f.name]
        if f.type in (Decimal, "Decimal"):
            value = Decimal(value)
        elif f.name == "goals":
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def load_customer(data: dict) -> CustomerFacts:
    return _load(CustomerFacts, data)


def load_product(data: dict) -> ProductFacts:
    return _load(ProductFacts, data)


def load_holdings(data: list) -> tuple[HoldingFacts, ...]:
    return tuple(_load(HoldingFacts, h) for h in data)


def dump_limits(limits: Limits) -> dict:
    return _plain(asdict(limits))


def load_limits(data: dict) -> Limits:
    return Limits(
        concentration={int(k): Decimal(v) for k, v in data["concentration"].items()},
        cooling_off_hours=data["cooling_off_hours"],
        follow_up_days=data["follow_up_days"],
    )
