"""Generated churn data with a known signal, shaped like the public bank-churn data set (the
columns of Kaggle's "Churn Modelling"): used by the tests and the benchmark.

Who leaves, by construction: the middle-aged (a bump around 50, not a straight line),
customers with one product or with three and more (a U shape), inactive members, Germany,
a non-zero balance, slightly more women. Some effects are not linear, so a boosted model
should beat a logistic regression. Blanks and malformed values are sprinkled in.
"""

from typing import Any

import numpy as np
import pandas as pd

KAGGLE_SPEC: dict[str, Any] = {
    "id": "CustomerId",
    "label": "Exited",
    "positive": 1,
    "columns": {
        "CreditScore": "numeric",
        "Geography": "categorical",
        "Gender": "categorical",
        "Age": "numeric",
        "Tenure": "numeric",
        "Balance": "numeric",
        "NumOfProducts": "numeric",
        "HasCrCard": "boolean",
        "IsActiveMember": "boolean",
        "EstimatedSalary": "numeric",
    },
}


def kaggle_like(rows: int, seed: int = 7, *, dirty: bool = True, with_label: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    geography = rng.choice(["France", "Germany", "Spain"], rows, p=[0.5, 0.25, 0.25])
    gender = rng.choice(["Female", "Male"], rows, p=[0.45, 0.55])
    age = np.clip(rng.normal(39, 10, rows).round(), 18, 92)
    tenure = rng.integers(0, 11, rows)
    balance = np.where(rng.random(rows) < 0.35, 0.0, rng.normal(120_000, 30_000, rows).round(2))
    products = rng.choice([1, 2, 3, 4], rows, p=[0.5, 0.45, 0.035, 0.015])
    card = rng.integers(0, 2, rows)
    active = rng.integers(0, 2, rows)
    credit = np.clip(rng.normal(650, 96, rows).round(), 350, 850)
    salary = rng.uniform(1_000, 200_000, rows).round(2)
    logit = (
        -2.3
        + 2.2 * np.exp(-(((age - 52) / 9) ** 2))
        + np.select([products == 1, products == 2, products >= 3], [0.6, -0.9, 2.8], 0.0)
        - 0.9 * active
        + 0.7 * (geography == "Germany")
        + 0.3 * (gender == "Female")
        + 0.35 * (balance > 0)
        - 0.15 * (credit > 700)
    )
    exited = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "RowNumber": np.arange(1, rows + 1),
            "CustomerId": 15_000_000 + np.arange(rows),
            "CreditScore": credit.astype(int),
            "Geography": geography,
            "Gender": gender,
            "Age": age.astype(int),
            "Tenure": tenure,
            "Balance": balance,
            "NumOfProducts": products,
            "HasCrCard": card,
            "IsActiveMember": active,
            "EstimatedSalary": salary,
        }
    )
    if with_label:
        frame["Exited"] = exited
    if dirty:
        frame = frame.astype(object)
        for column in ("CreditScore", "Age", "Balance", "Geography", "IsActiveMember", "EstimatedSalary"):
            frame.loc[rng.random(rows) < 0.02, column] = ""
        frame.loc[rng.random(rows) < 0.005, "Age"] = "n/a"
        frame.loc[rng.random(rows) < 0.005, "Balance"] = "12k"
        frame.loc[rng.random(rows) < 0.005, "HasCrCard"] = "maybe"
        if with_label:
            frame.loc[rng.random(rows) < 0.003, "Exited"] = ""
    return frame


# Event-fed features: histories of platform and core-banking events with a known signal.
ONLINE_SPEC = {
    "id": "customer_id",
    "label": "Exited",
    "columns": {
        "tenure_days": "numeric",
        "days_since_last_transaction": "numeric",
        "transactions_30d": "numeric",
        "debit_value_30d": "numeric",
        "balance": "numeric",
        "balance_trend_30d": "numeric",
        "complaints_90d": "numeric",
        "satisfaction": "numeric",
        "unhappy_answers_90d": "numeric",
        "products_held": "numeric",
        "products_closed_90d": "numeric",
    },
}


def _holdings(cid: str, at, leaves: bool, rng) -> list:
    """Core banking's products: one to three opened years ago; leavers close some of them in the
    last three months more often than those who stay."""
    from datetime import timedelta
    from decimal import Decimal

    from events.contracts import CoreBankingProductClosedV1, CoreBankingProductOpenedV1, new_event

    events = []
    for n in range(int(rng.integers(1, 4))):
        holding = f"{cid}-p{n}"
        opened = at - timedelta(days=float(rng.uniform(200, 1500)))
        payload = CoreBankingProductOpenedV1(
            customer_id=cid, holding_id=holding, product_code="DEP-1Y", amount=Decimal("5000"), opened_at=opened
        )
        events.append(
            new_event("corebanking.product_opened", payload, source="corebanking").model_copy(update={"time": opened})
        )
        if rng.random() < (0.5 if leaves else 0.05):
            closed = at - timedelta(days=float(rng.uniform(0, 90)))
            closing = CoreBankingProductClosedV1(
                customer_id=cid, holding_id=holding, product_code="DEP-1Y", closed_at=closed
            )
            events.append(
                new_event("corebanking.product_closed", closing, source="corebanking").model_copy(
                    update={"time": closed}
                )
            )
    return events


def histories(customers: int, at, seed: int = 3, horizon_days: int = 90):
    """Envelopes (oldest first per customer) up to `at`, then churn events within the horizon
    for the customers who leave: leavers complain, answer surveys badly, move money out and
    transact less in the months before `at`."""
    from datetime import timedelta
    from decimal import Decimal

    from events.contracts import (
        BalanceSnapshotV1,
        ComplaintOpenedV1,
        CustomerCreatedV1,
        CustomerLifecycleChangedV1,
        FeedbackReceivedV1,
        TransactionPostedV1,
        new_event,
    )

    rng = np.random.default_rng(seed)
    # Product use from its own stream, so the other events are the same as without it.
    products = np.random.default_rng([seed, 1])

    def stamped(name, payload, moment):
        return new_event(name, payload, source="history").model_copy(update={"time": moment})

    for n in range(customers):
        cid = f"h-{seed}-{n}"
        risk = rng.random()
        leaves = rng.random() < 0.1 + 0.6 * risk**2
        start = at - timedelta(days=int(rng.integers(200, 1500)))
        events = [
            stamped(
                "customer.created",
                CustomerCreatedV1(customer_id=cid, risk_level="C3", assets_under_management=Decimal("10000")),
                start,
            )
        ]
        if rng.random() < 0.1:  # newly onboarded: no activity yet, and they stay
            events[0] = events[0].model_copy(update={"time": at - timedelta(days=float(rng.uniform(0, 20)))})
            yield from events
            continue
        balance = float(rng.uniform(2_000, 50_000))
        drains = rng.random() < (0.6 if leaves else 0.15)
        for day in range(180, 0, -15):
            moment = at - timedelta(days=day)
            if drains and day < 75:
                balance *= float(rng.uniform(0.5, 0.9))
            else:
                balance *= float(rng.uniform(0.95, 1.06))
            events.append(
                stamped(
                    "balance.snapshot",
                    BalanceSnapshotV1(
                        customer_id=cid, account_id=f"{cid}-a", balance=Decimal(f"{balance:.2f}"), as_of=moment
                    ),
                    moment,
                )
            )
        activity = rng.poisson(4 if leaves else 8)
        for _ in range(activity):
            moment = at - timedelta(days=float(rng.uniform(0, 90 if not leaves else 120)))
            events.append(
                stamped(
                    "transaction.posted",
                    TransactionPostedV1(
                        customer_id=cid,
                        transaction_id=f"{cid}-t{len(events)}",
                        account_id=f"{cid}-a",
                        amount=Decimal(f"{rng.uniform(5, 500):.2f}"),
                        direction="debit",
                        posted_at=moment,
                    ),
                    moment,
                )
            )
        for _ in range(rng.poisson(1.2 if leaves else 0.3)):
            moment = at - timedelta(days=float(rng.uniform(0, 80)))
            events.append(
                stamped(
                    "complaint.opened",
                    ComplaintOpenedV1(
                        complaint_id=f"{cid}-c{len(events)}", customer_id=cid, category="fees", channel="branch"
                    ),
                    moment,
                )
            )
        for _ in range(rng.poisson(1)):
            moment = at - timedelta(days=float(rng.uniform(0, 120)))
            score = int(rng.integers(0, 9) if leaves else rng.integers(4, 11))
            events.append(
                stamped(
                    "feedback.received",
                    FeedbackReceivedV1(
                        feedback_id=f"{cid}-f{len(events)}", customer_id=cid, survey="nps", score=score, channel="web"
                    ),
                    moment,
                )
            )
        events += _holdings(cid, at, leaves, products)
        events.sort(key=lambda e: e.time)
        if leaves:
            moment = at + timedelta(days=float(rng.uniform(1, horizon_days)))
            events.append(
                stamped(
                    "customer.lifecycle_changed",
                    CustomerLifecycleChangedV1(customer_id=cid, previous_stage="active", stage="churned"),
                    moment,
                )
            )
        yield from events
