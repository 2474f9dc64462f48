"""Batch scoring: every row of a file gets `id,probability,band`; the label column is not needed."""

from pathlib import Path

import numpy as np
import pandas as pd

from events.contracts.terms import ChurnBand
from services.churn.model.dataset import DataError, Spec, read_table
from services.churn.model.registry import ChurnModel

CHUNK_ROWS = 250_000


def bands(probability: np.ndarray, medium: float, high: float) -> np.ndarray:
    low, middle, top = (band.value for band in ChurnBand)
    return np.where(probability >= high, top, np.where(probability >= medium, middle, low))


def scoring_spec(model: ChurnModel, given: Spec) -> Spec:
    """The given spec's id column with the model's own feature columns, which it must name alike."""
    for name, kind in model.encoder.columns.items():
        if given.columns.get(name) != kind:
            raise DataError(
                f"Model {model.version} was trained on column {name!r} ({kind}); "
                f"the spec {'gives it as ' + given.columns[name] if name in given.columns else 'does not name it'}"
            )
    return Spec(id=given.id, columns=dict(model.encoder.columns))


def score_file(model: ChurnModel, data: str | Path, spec: Spec, out: str | Path, *, medium: float, high: float) -> int:
    table = read_table(data, scoring_spec(model, spec), with_label=False)
    probability = np.empty(len(table.ids))
    for start in range(0, len(table.ids), CHUNK_ROWS):
        chunk = table.frame.iloc[start : start + CHUNK_ROWS]
        probability[start : start + CHUNK_ROWS] = model.probabilities(model.encoder.transform(chunk))
    result = pd.DataFrame(
        {"id": table.ids, "probability": np.round(probability, 6), "band": bands(probability, medium, high)}
    )
    result.to_csv(out, index=False)
    return len(result)
