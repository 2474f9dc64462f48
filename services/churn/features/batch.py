"""Features in batch over a history file: the same events the service consumes (one envelope as
JSON per line, e.g. an export of the topics), folded customer by customer with the same
definitions as online, and read at one moment. With a horizon, a label says who churned
(lifecycle stage `churned`) within that many days after the moment: a training file.
"""

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from events.contracts import UnknownEvent, parse_payload
from events.contracts.envelope import Envelope
from events.contracts.terms import Stage
from services.churn.features.definitions import FEATURES, State, apply, event_time, vector
from services.churn.model.dataset import DataError

LABEL = "Exited"


def read_history(path: str | Path) -> Iterator[tuple[Envelope, object]]:
    with open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                envelope = Envelope.model_validate_json(line)
                payload = parse_payload(envelope)
            except UnknownEvent:
                continue  # not a contract this platform knows; nothing to fold
            except ValidationError as error:
                raise DataError(f"{path}: line {number} is not a valid event ({error.errors()[0]['msg']})") from None
            yield envelope, payload


def fold(events: Iterable[tuple[Envelope, Any]], at: datetime) -> tuple[dict[str, State], dict[str, datetime]]:
    """Each customer's feature state from the events up to `at`, and when customers churned."""
    timeline: dict[str, list] = defaultdict(list)
    churned: dict[str, datetime] = {}
    for position, (envelope, payload) in enumerate(events):
        moment = event_time(envelope.type, envelope.time, payload)
        if envelope.type == "customer.lifecycle_changed" and payload.stage == Stage.CHURNED:
            churned.setdefault(envelope.customer_id, moment)
        if moment <= at:
            timeline[envelope.customer_id].append((moment, position, envelope.type, payload))
    states: dict[str, State] = {}
    for customer_id, events_of_customer in timeline.items():
        state: State = {}
        for moment, _, event_type, payload in sorted(events_of_customer, key=lambda e: (e[0], e[1])):
            apply(state, event_type, moment, payload)
        states[customer_id] = state
    return states, churned


def write_features(history: str | Path, at: datetime, out: str | Path, *, label_horizon_days: int | None = None) -> int:
    if at.tzinfo is None:
        raise DataError("--at needs a time zone, e.g. 2026-06-01T00:00:00+00:00")
    states, churned = fold(read_history(history), at)
    columns = ["customer_id", *FEATURES] + ([LABEL] if label_horizon_days is not None else [])
    written = 0
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for customer_id in sorted(states):
            gone = churned.get(customer_id)
            if gone is not None and gone <= at:
                continue  # already gone: not a customer to score at `at`
            features = vector(states[customer_id], at)
            row = [customer_id] + ["" if features[name] is None else features[name] for name in FEATURES]
            if label_horizon_days is not None:
                row.append(int(gone is not None and gone <= at + timedelta(days=label_horizon_days)))
            writer.writerow(row)
            written += 1
    return written
