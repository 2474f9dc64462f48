"""Churn benchmarks, each cell beside a baseline measured in the same run.

    python -m tests.bench_churn

1. Batch scoring (`crm churn score`'s code path) of CHURN_BENCH_ROWS customers (default
   1,000,000) in the bank-churn CSV shape, LightGBM + calibration; baseline: the same file read
   against its spec and the same output written, with no model (the I/O floor).
2. Online scoring of one customer from event-fed features (features -> vector -> model ->
   per-feature contributions), CHURN_BENCH_ONLINE_CALLS times; baseline: the rules fallback on
   the same customers.
"""

import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

ROWS = int(os.environ.get("CHURN_BENCH_ROWS", "1000000"))
ONLINE_CALLS = int(os.environ.get("CHURN_BENCH_ONLINE_CALLS", "3000"))
TRAIN_ROWS = int(os.environ.get("CHURN_BENCH_TRAIN_ROWS", "10000"))


def _entry(cell: str, value: float, unit: str, baseline: float | None) -> dict:
    return {
        "cell": cell,
        "value": round(value, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": round(value / baseline, 3) if baseline else None,
    }


def _percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def batch(folder: Path) -> list[dict]:
    from services.churn.model.dataset import Spec, read_table
    from services.churn.model.registry import Registry
    from services.churn.model.scoring import bands, score_file
    from services.churn.model.training import train
    from tests.churn_data import KAGGLE_SPEC, kaggle_like

    spec = Spec.from_dict(KAGGLE_SPEC)
    kaggle_like(TRAIN_ROWS).to_csv(folder / "train.csv", index=False)
    registry = Registry(folder / "models")
    started = time.perf_counter()
    outcome = train(folder / "train.csv", spec, registry, progress=False)
    trained_in = time.perf_counter() - started
    model = registry.load(outcome.version)

    started = time.perf_counter()
    kaggle_like(ROWS, seed=99, with_label=False).to_csv(folder / "customers.csv", index=False)
    generated_in = time.perf_counter() - started
    size = (folder / "customers.csv").stat().st_size

    started = time.perf_counter()
    table = read_table(folder / "customers.csv", Spec(id=spec.id, columns=spec.columns), with_label=False)
    probability = np.zeros(len(table.ids))
    pd.DataFrame({"id": table.ids, "probability": probability, "band": bands(probability, 0.4, 0.7)}).to_csv(
        folder / "floor.csv", index=False
    )
    floor = time.perf_counter() - started

    started = time.perf_counter()
    scored = score_file(model, folder / "customers.csv", spec, folder / "scores.csv", medium=0.4, high=0.7)
    scoring = time.perf_counter() - started
    assert scored == ROWS

    m, b = outcome.report["metrics"], outcome.report["baseline_logistic_regression"]
    print(
        f"  training: {TRAIN_ROWS:,} rows in {trained_in:.1f} s, {outcome.report['trees']} trees; validation "
        f"AUC {m['auc']:.4f} (logistic {b['auc']:.4f}), PR-AUC {m['pr_auc']:.4f} ({b['pr_auc']:.4f}), "
        f"lift@10% {m['lift_top_decile']:.2f} ({b['lift_top_decile']:.2f}), Brier {m['brier']:.4f} ({b['brier']:.4f})"
    )
    print(f"  input: {ROWS:,} rows, {size / 1e6:.1f} MB CSV (generated in {generated_in:.1f} s)")
    print(f"  {'batch scoring, LightGBM + calibration':42} {ROWS / scoring:>12,.0f} rows/s  ({scoring:.1f} s)")
    print(f"  {'baseline: read + write, no model':42} {ROWS / floor:>12,.0f} rows/s  ({floor:.1f} s)")
    return [_entry(f"churn batch scoring rows/s ({ROWS:,} customers)", ROWS / scoring, "rows/s", ROWS / floor)]


def online(folder: Path) -> list[dict]:
    from services.churn.features.batch import fold, read_history, write_features
    from services.churn.model.dataset import Spec
    from services.churn.model.registry import Registry
    from services.churn.model.training import train
    from services.churn.risk.online import OnlineScorer
    from services.churn.settings import ChurnSettings
    from tests.churn_data import ONLINE_SPEC, histories

    at = datetime(2026, 6, 1, tzinfo=UTC)
    with open(folder / "history.jsonl", "w") as handle:
        for envelope in histories(1500, at):
            handle.write(envelope.model_dump_json() + "\n")
    write_features(folder / "history.jsonl", at, folder / "features.csv", label_horizon_days=90)
    train(folder / "features.csv", Spec.from_dict(ONLINE_SPEC), Registry(folder / "online-models"), progress=False)
    states, _ = fold(read_history(folder / "history.jsonl"), at)
    rows = [
        SimpleNamespace(
            state=state, complaints=1, low_csat=0, nps_detractors=1, assets_under_management=None, peak_assets=None
        )
        for state in states.values()
    ]

    def timed(scorer: OnlineScorer) -> list[float]:
        samples = []
        for i in range(ONLINE_CALLS):
            row = rows[i % len(rows)]
            started = time.perf_counter()
            scorer.assess(row, at)
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    with_model = OnlineScorer(ChurnSettings(model_dir=str(folder / "online-models")))
    rules_only = OnlineScorer(ChurnSettings(model_dir=str(folder / "no-models")))
    assert with_model.model() is not None and rules_only.model() is None
    timed(with_model), timed(rules_only)  # warm-up
    model_ms, rules_ms = timed(with_model), timed(rules_only)
    for name, samples in (("online scoring, model + contributions", model_ms), ("baseline: rules", rules_ms)):
        print(
            f"  {name:42} p50 {_percentile(samples, 50):7.3f} ms   p99 {_percentile(samples, 99):7.3f} ms   "
            f"mean {statistics.fmean(samples):7.3f} ms   ({len(samples)} calls)"
        )
    return [
        _entry(
            "churn online scoring p99 ms (one customer, model + contributions)",
            _percentile(model_ms, 99),
            "ms",
            _percentile(rules_ms, 99),
        )
    ]


def main() -> list[dict]:
    print(
        f"bench_churn: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"CHURN_BENCH_ROWS={ROWS}, CHURN_BENCH_ONLINE_CALLS={ONLINE_CALLS}"
    )
    with tempfile.TemporaryDirectory(prefix="crm-bench-churn-") as tmp:
        folder = Path(tmp)
        print("1. Batch scoring (crm churn score code path)")
        entries = batch(folder)
        print("2. Online scoring (one customer, in process)")
        entries += online(folder)
    return entries


if __name__ == "__main__":
    for item in main():
        print(item)
    sys.exit(0)
