"""How good a churn model is on rows it was not trained on, and how far scores have drifted."""

import numpy as np


def lift_top_decile(label: np.ndarray, probability: np.ndarray) -> float:
    """Churn rate among the 10% highest scores over the overall churn rate."""
    base = label.mean()
    if base == 0:
        return float("nan")
    top = max(1, round(len(label) * 0.1))
    order = np.argsort(-probability, kind="stable")[:top]
    return float(label[order].mean() / base)


def calibration_table(label: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict]:
    """Rows grouped by predicted probability (equal-width bins): predicted vs observed churn."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            table.append(
                {
                    "from": round(float(edges[b]), 2),
                    "to": round(float(edges[b + 1]), 2),
                    "rows": int(mask.sum()),
                    "predicted": round(float(probability[mask].mean()), 4),
                    "observed": round(float(label[mask].mean()), 4),
                }
            )
    return table


def evaluate(label: np.ndarray, probability: np.ndarray) -> dict:
    # scikit-learn takes seconds to import; the service's drift check (psi) does without it.
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    return {
        "rows": len(label),
        "positives": int(label.sum()),
        "auc": float(roc_auc_score(label, probability)),
        "pr_auc": float(average_precision_score(label, probability)),
        "lift_top_decile": lift_top_decile(label, probability),
        "brier": float(brier_score_loss(label, probability)),
        "calibration": calibration_table(label, probability),
    }


def reference_bins(probability: np.ndarray, bins: int = 10) -> dict:
    """Decile edges of the training (validation) scores, kept with the model for drift checks."""
    inner = np.unique(np.quantile(probability, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.digitize(probability, inner), minlength=len(inner) + 1)
    return {"edges": inner.tolist(), "shares": (counts / counts.sum()).tolist()}


def psi(reference: dict, probability: np.ndarray) -> float | None:
    """Population stability index of current scores against the reference bins; None without
    scores. Rule of thumb: below 0.1 stable, 0.1-0.25 watch, above 0.25 shifted."""
    edges = np.asarray(reference["edges"])
    return psi_of_counts(reference, np.bincount(np.digitize(probability, edges), minlength=len(edges) + 1))


def psi_of_counts(reference: dict, counts: np.ndarray) -> float | None:
    """`psi` from the current scores' counts per reference bin (bin i: edges[i-1] <= score <
    edges[i], as np.digitize), e.g. counted by the database; None without scores."""
    total = counts.sum()
    if total == 0:
        return None
    expected = np.asarray(reference["shares"])
    actual = counts / total
    floor = 1e-4
    expected, actual = np.maximum(expected, floor), np.maximum(actual, floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
