"""Generated churn data with a known signal, shaped like the public bank-churn data set (the
columns of Kaggle's "Churn Modelling"): used by the tests and the benchmark.

Who leaves, by construction: the middle-aged (a bump around 50, not a straight line),
customers with one product or with three and more (a U shape), inactive members, Germany,
a non-zero balance, slightly more women. Some effects are not linear, so a boosted model
should beat a logistic regression. Blanks and malformed values are sprinkled in.
"""

import numpy as np
import pandas as pd

KAGGLE_SPEC = {
    "id": "CustomerId",
    "label": "Exited",
    "positive": 1,
    "columns": {
        "CreditScore": "numeric", "Geography": "categorical", "Gender": "categorical", "Age": "numeric",
        "Tenure": "numeric", "Balance": "numeric", "NumOfProducts": "numeric", "HasCrCard": "boolean",
        "IsActiveMember": "boolean", "EstimatedSalary": "numeric",
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
        + 2.2 * np.exp(-((age - 52) / 9) ** 2)
        + np.select([products == 1, products == 2, products >= 3], [0.6, -0.9, 2.8], 0.0)
        - 0.9 * active
        + 0.7 * (geography == "Germany")
        + 0.3 * (gender == "Female")
        + 0.35 * (balance > 0)
        - 0.15 * (credit > 700)
    )
    exited = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({
        "RowNumber": np.arange(1, rows + 1),
        "CustomerId": 15_000_000 + np.arange(rows),
        "CreditScore": credit.astype(int), "Geography": geography, "Gender": gender, "Age": age.astype(int),
        "Tenure": tenure, "Balance": balance, "NumOfProducts": products, "HasCrCard": card,
        "IsActiveMember": active, "EstimatedSalary": salary,
    })
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
