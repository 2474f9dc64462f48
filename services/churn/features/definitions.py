"""Churn features, defined once: a per-customer state folded from events, and the feature
vector read from that state at a moment.

The same two functions serve both ways of computing features:
- online, the event handlers fold each consumed event into the customer's stored state;
- in batch, `features.batch` folds a history file of the same events, customer by customer.
So the two agree by construction (a test checks it), and a model trained on batch features can
score the features kept from events.

Windows are exponential decays with a half-life, so state stays a few numbers per customer
however many events arrive: a decayed count at time T is the sum of 2^-((T - t_i) / half-life)
over the events at t_i, which does not depend on the order the events arrive in. Balance trends
compare the current balance with exponentially weighted moving averages (30 and 90 day
half-lives); a snapshot older than the account's latest one is ignored.

    feature                      meaning
    tenure_days                  days since the customer was created (or first seen)
    days_since_last_transaction  recency of activity; empty before any transaction
    transactions_30d             frequency: decayed count of posted transactions (30-day half-life)
    debit_value_30d              value: decayed sum of debits (30-day half-life)
    credit_value_30d             decayed sum of credits, e.g. salary (30-day half-life)
    balance                      sum of the latest balance of each account
    balance_trend_30d            (balance - 30-day moving average) / max(|average|, 1): below 0 when falling
    balance_trend_90d            the same against the 90-day average
    assets                       assets under management (profile)
    assets_drop_from_peak        1 - assets / highest assets seen (0 when at the peak)
    complaints_90d               decayed count of complaints (90-day half-life)
    satisfaction                 decayed mean of survey answers scaled to 0-1 (CSAT 1-5, NPS 0-10)
    unhappy_answers_90d          decayed count of low CSAT (<= 2) and NPS detractor (<= 6) answers
    contacts_90d                 decayed count of contacts: surveys, complaints, retention calls
    products_held                products open in core banking now; empty before any product event
    products_closed_90d          decayed count of products closed (90-day half-life)
    tier                         the customer's tier (categorical)

Product use comes from core banking's holdings (corebanking.product_opened/_closed): each
holding is kept as [opened at, closed at], so an opening and a closing count once whichever
arrives first, and a closing published twice counts once.
"""

from datetime import datetime
from typing import Any, Literal

DAY = 86_400.0
LOW_CSAT_MAX = 2
NPS_DETRACTOR_MAX = 6

ColumnType = Literal["numeric", "categorical", "boolean"]
# Every feature the event stream yields, with its type for a model spec (see model.dataset.Spec).
FEATURES: dict[str, ColumnType] = {
    "tenure_days": "numeric",
    "days_since_last_transaction": "numeric",
    "transactions_30d": "numeric",
    "debit_value_30d": "numeric",
    "credit_value_30d": "numeric",
    "balance": "numeric",
    "balance_trend_30d": "numeric",
    "balance_trend_90d": "numeric",
    "assets": "numeric",
    "assets_drop_from_peak": "numeric",
    "complaints_90d": "numeric",
    "satisfaction": "numeric",
    "unhappy_answers_90d": "numeric",
    "contacts_90d": "numeric",
    "products_held": "numeric",
    "products_closed_90d": "numeric",
    "tier": "categorical",
}
# Decayed sums kept in the state; "sat" counts survey answers, "sat_sum" adds their scaled scores.
HALF_LIFE_DAYS = {
    "txn": 30,
    "debit": 30,
    "credit": 30,
    "complaints": 90,
    "sat": 90,
    "sat_sum": 90,
    "unhappy": 90,
    "contacts": 90,
    "closed": 90,
}
EWMA_HALF_LIFE_DAYS = {"bal30": 30, "bal90": 90}

State = dict[str, Any]  # JSON-serialisable: stored as is in the customer's row


def is_low_csat(survey: str, score: int) -> bool:
    return survey == "csat" and score <= LOW_CSAT_MAX


def is_nps_detractor(survey: str, score: int) -> bool:
    return survey == "nps" and score <= NPS_DETRACTOR_MAX


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _decay(seconds: float, half_life_days: float) -> float:
    return 2.0 ** (-seconds / (half_life_days * DAY))


def _add_decayed(state: State, key: str, at: float, weight: float = 1.0) -> None:
    """Add `weight` at time `at` to the decayed sum `key` ([value, as_of]); order-independent."""
    half_life = HALF_LIFE_DAYS[key]
    value, as_of = state.get(key, (0.0, at))
    if at >= as_of:
        state[key] = [value * _decay(at - as_of, half_life) + weight, at]
    else:
        state[key] = [value + weight * _decay(as_of - at, half_life), as_of]


def _decayed(state: State, key: str, at: float) -> float:
    value, as_of = state.get(key, (0.0, at))
    return value * _decay(max(at - as_of, 0.0), HALF_LIFE_DAYS[key])


def _touch(state: State, at: float) -> None:
    if state.get("since") is None or at < state["since"]:
        state["since"] = at


def _satisfaction_scaled(survey: str, score: int) -> float:
    """A survey score on 0 (worst) to 1 (best): NPS 0-10, CSAT 1-5, CES 1-7 (7 is the most effort)."""
    if survey == "nps":
        return score / 10
    if survey == "ces":
        return 1 - (score - 1) / 6
    return (score - 1) / 4


def apply(state: State, event_type: str, time: datetime, payload: Any) -> None:
    """Fold one event into `state`. `time` is when it happened (the envelope's time, or the
    posting/snapshot time core banking gives). Unknown event types leave the state unchanged."""
    at = _seconds(time)
    if event_type in ("customer.created", "customer.updated"):
        if event_type == "customer.created":
            state["since"] = at if state.get("since") is None else min(state["since"], at)
        # An older customer event never overwrites newer assets.
        if state.get("assets_at") is None or at >= state["assets_at"]:
            assets = float(payload.assets_under_management)
            state["assets"], state["assets_at"] = assets, at
            state["assets_peak"] = max(state.get("assets_peak") or assets, assets)
    elif event_type == "customer.tier_changed":
        state["tier"] = payload.tier
    elif event_type == "feedback.received":
        _touch(state, at)
        scaled = _satisfaction_scaled(payload.survey, payload.score)
        _add_decayed(state, "sat", at)
        _add_decayed(state, "sat_sum", at, scaled)
        if is_low_csat(payload.survey, payload.score) or is_nps_detractor(payload.survey, payload.score):
            _add_decayed(state, "unhappy", at)
        _add_decayed(state, "contacts", at)
    elif event_type == "complaint.opened":
        _touch(state, at)
        _add_decayed(state, "complaints", at)
        _add_decayed(state, "contacts", at)
    elif event_type == "retention.contact":
        _add_decayed(state, "contacts", at)
    elif event_type == "transaction.posted":
        _touch(state, at)
        state["last_txn"] = max(state.get("last_txn") or at, at)
        _add_decayed(state, "txn", at)
        _add_decayed(state, "debit" if payload.direction == "debit" else "credit", at, float(payload.amount))
    elif event_type in ("corebanking.product_opened", "corebanking.product_closed"):
        _touch(state, at)
        holdings = state.setdefault("holdings", {})
        opened, closed = holdings.get(payload.holding_id, (None, None))
        if event_type == "corebanking.product_opened":
            opened = at
        elif closed is None:
            closed = at
            _add_decayed(state, "closed", at)
        holdings[payload.holding_id] = [opened, closed]
    elif event_type == "balance.snapshot":
        _touch(state, at)
        accounts = state.setdefault("accounts", {})
        previous = accounts.get(payload.account_id)
        if previous is not None and at < previous[1]:
            return  # older than the account's latest snapshot
        accounts[payload.account_id] = [float(payload.balance), at]
        total = sum(balance for balance, _ in accounts.values())
        for key, half_life in EWMA_HALF_LIFE_DAYS.items():
            mean, as_of = state.get(key, (None, at))
            if mean is None:
                state[key] = [total, at]
            else:
                alpha = 1.0 - _decay(max(at - as_of, 0.0), half_life)
                state[key] = [mean + alpha * (total - mean), max(at, as_of)]


def _trend(total: float, average: list | None) -> float | None:
    if average is None:
        return None
    return (total - average[0]) / max(abs(average[0]), 1.0)


def vector(state: State, at: datetime) -> dict[str, float | str | None]:
    """The features of one customer at moment `at` (None: unknown)."""
    t = _seconds(at)
    accounts = state.get("accounts") or {}
    total = sum(balance for balance, _ in accounts.values()) if accounts else None
    answers = _decayed(state, "sat", t)
    satisfaction = _decayed(state, "sat_sum", t) / answers if answers > 0 else None
    assets, peak = state.get("assets"), state.get("assets_peak")
    holdings = state.get("holdings")
    return {
        "tenure_days": (t - state["since"]) / DAY if state.get("since") is not None else None,
        "days_since_last_transaction": (t - state["last_txn"]) / DAY if state.get("last_txn") is not None else None,
        "transactions_30d": _decayed(state, "txn", t),
        "debit_value_30d": _decayed(state, "debit", t),
        "credit_value_30d": _decayed(state, "credit", t),
        "balance": total,
        "balance_trend_30d": _trend(total, state.get("bal30")) if total is not None else None,
        "balance_trend_90d": _trend(total, state.get("bal90")) if total is not None else None,
        "assets": assets,
        "assets_drop_from_peak": (1.0 - assets / peak) if assets is not None and peak else None,
        "complaints_90d": _decayed(state, "complaints", t),
        "satisfaction": satisfaction,
        "unhappy_answers_90d": _decayed(state, "unhappy", t),
        "contacts_90d": _decayed(state, "contacts", t),
        "products_held": (
            sum(1 for opened, closed in holdings.values() if opened is not None and closed is None)
            if holdings is not None
            else None
        ),
        "products_closed_90d": _decayed(state, "closed", t),
        "tier": state.get("tier"),
    }


def event_time(event_type: str, envelope_time: datetime, payload: Any) -> datetime:
    """When the event happened: core banking says so in the payload, the platform in the envelope."""
    if event_type == "transaction.posted":
        return payload.posted_at
    if event_type == "balance.snapshot":
        return payload.as_of
    if event_type == "corebanking.product_opened":
        return payload.opened_at
    if event_type == "corebanking.product_closed":
        return payload.closed_at
    return envelope_time
