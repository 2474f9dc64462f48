"""Training a churn model from a file: gradient-boosted trees (LightGBM), calibrated, validated
on held-out rows beside a logistic regression, stored as a version, promoted only if better.

Splits: 20% of rows held out for validation, stratified by the label (or the latest 20% when
the spec names a `time` column); of the rest, 20% calibrate the probabilities and stop the
boosting early, 80% fit. Class imbalance: positives weigh negatives/positives in the trees (and
`balanced` in the regression); calibration on unweighted rows brings probabilities back to the
real churn rate.
"""

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tqdm import tqdm

from services.churn.model import metrics
from services.churn.model.dataset import DataError, Encoder, Spec, Table, read_table, spec_fingerprint
from services.churn.model.registry import Registry, RegistryError

VALIDATION_SHARE = 0.2
CALIBRATION_SHARE = 0.2
MIN_ROWS_PER_CLASS = 20
MAX_TREES = 1000


@dataclass
class TrainingOutcome:
    version: int
    promoted: bool
    decision: str
    report: dict = field(default_factory=dict)


def _split(table: Table, share: float, seed: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (of `rows`) kept and held out: the latest rows by time, else a stratified sample."""
    if table.times is not None:
        order = rows[np.argsort(table.times[rows], kind="stable")]
        cut = round(len(order) * (1 - share))
        return order[:cut], order[cut:]
    kept, held = train_test_split(
        rows, test_size=share, random_state=seed, stratify=table.label[rows] if table.label is not None else None
    )
    return np.sort(kept), np.sort(held)


def _baseline(encoder: Encoder) -> Pipeline:
    categorical = encoder.categorical_indices
    others = [i for i in range(len(encoder.columns)) if i not in categorical]
    transforms = [
        (
            "numbers",
            make_pipeline(
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()
            ),
            others,
        )
    ]
    if categorical:
        transforms.append(
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1, keep_empty_features=True),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            )
        )
    return make_pipeline(ColumnTransformer(transforms), LogisticRegression(class_weight="balanced", max_iter=2000))


def _calibrated(fitted, matrix: np.ndarray, label: np.ndarray) -> CalibratedClassifierCV:
    method = "isotonic" if len(label) >= 1000 else "sigmoid"
    return CalibratedClassifierCV(FrozenEstimator(fitted), method=method).fit(matrix, label)


class _ProgressCallback:
    """A LightGBM callback moving `bar` on by one tree; LightGBM orders callbacks by `order`."""

    order = 30

    def __init__(self, bar: tqdm):
        self.bar = bar

    def __call__(self, env) -> None:
        self.bar.update(1)


def train(
    data: str | Path,
    spec: Spec,
    registry: Registry,
    *,
    force: bool = False,
    seed: int = 42,
    progress: bool = True,
    threads: int = 0,
) -> TrainingOutcome:
    steps = tqdm(total=6, desc="churn train", unit="step", disable=not progress, file=sys.stderr)
    steps.set_postfix_str("reading")
    table = read_table(data, spec, with_label=True)
    label = table.label
    assert label is not None  # read with_label=True
    positives, negatives = int(label.sum()), int(len(label) - label.sum())
    if min(positives, negatives) < MIN_ROWS_PER_CLASS:
        raise DataError(
            f"Training needs at least {MIN_ROWS_PER_CLASS} rows of each class; the file has "
            f"{positives} with {spec.label}={spec.positive} and {negatives} without"
        )
    steps.update(1)

    rows = np.arange(len(label))
    train_rows, valid_rows = _split(table, VALIDATION_SHARE, seed, rows)
    fit_rows, cal_rows = _split(table, CALIBRATION_SHARE, seed, train_rows)
    encoder = Encoder.fit(table.frame.iloc[fit_rows], spec.columns)
    matrix = encoder.transform(table.frame)
    malformed = encoder.malformed(table.frame)
    steps.set_postfix_str("boosting")
    steps.update(1)

    trees = tqdm(total=MAX_TREES, desc="trees", unit="tree", leave=False, disable=not progress, file=sys.stderr)
    booster = lgb.LGBMClassifier(
        n_estimators=MAX_TREES,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        scale_pos_weight=negatives / positives,
        random_state=seed,
        n_jobs=threads or None,
        verbose=-1,
    )
    booster.fit(
        matrix[fit_rows],
        label[fit_rows],
        eval_X=(matrix[cal_rows],),
        eval_y=(label[cal_rows],),
        eval_metric="auc",
        categorical_feature=encoder.categorical_indices or "auto",
        callbacks=[lgb.early_stopping(50, verbose=False), _ProgressCallback(trees)],
    )
    trees.close()
    steps.set_postfix_str("calibrating")
    steps.update(1)
    model = _calibrated(booster, matrix[cal_rows], label[cal_rows])

    steps.set_postfix_str("baseline")
    baseline = _baseline(encoder).fit(matrix[fit_rows], label[fit_rows])
    baseline = _calibrated(baseline, matrix[cal_rows], label[cal_rows])
    steps.update(1)

    steps.set_postfix_str("validating")
    y_valid = label[valid_rows]
    p_model = model.predict_proba(matrix[valid_rows])[:, 1]
    p_base = baseline.predict_proba(matrix[valid_rows])[:, 1]
    report_model = metrics.evaluate(y_valid, p_model)
    report_base = metrics.evaluate(y_valid, p_base)
    contributions = np.asarray(booster.booster_.predict(matrix[valid_rows], pred_contrib=True))[:, :-1]
    gain = booster.booster_.feature_importance(importance_type="gain")
    importance: list[dict[str, Any]] = sorted(
        (
            {
                "feature": name,
                "gain_share": float(gain[i] / gain.sum()) if gain.sum() else 0.0,
                "mean_abs_contribution": float(np.abs(contributions[:, i]).mean()),
            }
            for i, name in enumerate(encoder.names)
        ),
        key=lambda item: -item["gain_share"],
    )
    steps.update(1)

    meta = {
        "created_at": datetime.now(UTC).isoformat(),
        "library": {"lightgbm": lgb.__version__},
        "spec": spec.to_dict(),
        "spec_fingerprint": spec_fingerprint(spec),
        "data_fingerprint": table.fingerprint,
        "data_file": Path(data).name,
        "encoder": encoder.to_dict(),
        "rows": {
            "total": len(label),
            "fit": len(fit_rows),
            "calibration": len(cal_rows),
            "validation": len(valid_rows),
            "blank_label_dropped": table.dropped_blank_label,
            "positives": positives,
        },
        "validation": "time-based (latest 20%)" if spec.time else "stratified hold-out (20%)",
        "validation_from": str(table.times[valid_rows].min()) if table.times is not None else None,
        "training_until": str(table.times[train_rows].max()) if table.times is not None else None,
        "malformed_values": malformed,
        "trees": int(booster.booster_.num_trees()),
        "metrics": report_model,
        "baseline_logistic_regression": report_base,
        "importance": importance,
        "reference_scores": metrics.reference_bins(p_model),
    }
    steps.set_postfix_str("comparing")
    promoted, decision, compared = _decide(registry, table, valid_rows, y_valid, report_model["auc"], force)
    meta["compared_with_promoted"] = compared
    version = registry.save(model, meta)
    if promoted:
        registry.promote(version, note=decision)
    steps.update(1)
    steps.close()
    return TrainingOutcome(version=version, promoted=promoted, decision=decision, report={**meta, "version": version})


def _decide(
    registry: Registry, table: Table, valid_rows, y_valid, auc: float, force: bool
) -> tuple[bool, str, dict | None]:
    current = registry.promoted()
    if current is None:
        return True, "promoted: no model was promoted before", None
    try:
        incumbent = registry.load(current)
    except RegistryError as error:
        return (
            force,
            f"{'promoted (--force)' if force else 'not promoted'}: the promoted model cannot be loaded ({error})",
            None,
        )
    missing = [c for c in incumbent.encoder.columns if c not in table.frame.columns]
    if missing:
        why = f"the promoted model {current} needs column {missing[0]!r}, which this spec does not use"
        return (
            force,
            f"{'promoted (--force)' if force else 'not promoted'}: cannot compare on the same rows ({why})",
            None,
        )
    p_incumbent = incumbent.probabilities(incumbent.encoder.transform(table.frame.iloc[valid_rows]))
    incumbent_auc = metrics.evaluate(y_valid, p_incumbent)["auc"]
    compared = {"version": current, "auc_on_same_validation_rows": incumbent_auc, "new_auc": auc}
    if auc > incumbent_auc:
        return (
            True,
            f"promoted: AUC {auc:.4f} beats the promoted model {current} ({incumbent_auc:.4f}) on the same rows",
            compared,
        )
    if force:
        return (
            True,
            f"promoted (--force) although AUC {auc:.4f} does not beat model {current} ({incumbent_auc:.4f})",
            compared,
        )
    return (
        False,
        f"not promoted: AUC {auc:.4f} does not beat the promoted model {current} ({incumbent_auc:.4f}) on the same rows",
        compared,
    )
