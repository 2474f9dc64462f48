"""Model versions in a directory: each version its model file, metrics, spec and data
fingerprint; an append-only promotion log says which one scores (the last line wins).

    <model_dir>/<version>/model.skops   the calibrated classifier (skops: no pickle on load)
    <model_dir>/<version>/meta.json     version, time, spec, encoder, metrics, fingerprints
    <model_dir>/promotions.jsonl        {"version", "at", "action", "note"} per promotion, rollback or
                                        retirement (version null: no model, the rules score)

Model files are loaded with an allow-list of types kept in this code, never one read from the
file, so a tampered file cannot run code on load.
"""

import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.churn.model.dataset import Encoder, Spec

if TYPE_CHECKING:  # scikit-learn takes seconds to import: only where a model is used
    from sklearn.calibration import CalibratedClassifierCV

MODEL_FILE, META_FILE, PROMOTIONS = "model.skops", "meta.json", "promotions.jsonl"
# Types a churn model file may contain beyond skops' defaults (scikit-learn and numpy basics).
ALLOWED_TYPES = frozenset(
    {
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.frozen._frozen.FrozenEstimator",
        "sklearn.isotonic.IsotonicRegression",
        "sklearn.calibration._SigmoidCalibration",
        "collections.OrderedDict",
        "numpy.dtypes.Float64DType",
        "numpy.dtypes.Int64DType",
        "numpy.dtypes.Int32DType",
        "numpy.dtypes.Int8DType",
        "numpy.dtypes.ObjectDType",
        "numpy.dtypes.BoolDType",
        "builtins.slice",
    }
)


class RegistryError(ValueError):
    pass


@dataclass
class ChurnModel:
    """A loaded model version: probabilities and per-feature contributions."""

    version: int
    meta: dict
    classifier: "CalibratedClassifierCV"  # over a frozen LGBMClassifier
    encoder: Encoder

    @property
    def name(self) -> str:
        return f"model-{self.version}"

    @property
    def spec(self) -> Spec:
        return Spec.from_dict(self.meta["spec"])

    @property
    def _calibrated(self):
        return self.classifier.calibrated_classifiers_[0]

    @property
    def booster(self):
        return self._calibrated.estimator.estimator.booster_

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        """The calibrator reads the trees' raw score (log-odds), as CalibratedClassifierCV fits it."""
        return np.clip(self._calibrated.calibrators[0].predict(raw), 0.0, 1.0)

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated churn probabilities (the same as the classifier's predict_proba, without
        its per-call checks)."""
        return self._calibrate(self.booster.predict(matrix, raw_score=True))

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities, and each feature's contribution to each row's score
        (log-odds of the boosted trees, TreeSHAP: with the average they add up to the raw score
        the calibrator reads; calibration is monotone, so the order of reasons holds). One
        thread: for a few rows, starting a thread pool costs more than the trees."""
        contributions = self.booster.predict(matrix, pred_contrib=True, num_threads=1)
        return self._calibrate(contributions.sum(axis=1)), contributions[:, :-1]


class Registry:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def versions(self) -> list[int]:
        if not self.directory.exists():
            return []
        return sorted(int(p.name) for p in self.directory.iterdir() if p.is_dir() and p.name.isdigit())

    def meta(self, version: int) -> dict:
        try:
            return json.loads((self.directory / str(version) / META_FILE).read_text())
        except FileNotFoundError:
            raise RegistryError(f"No model version {version}; see `crm churn models`") from None

    def save(self, classifier, meta: dict) -> int:
        """Store a new version; returns its number (the next free one, safe against a concurrent save)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        version = (self.versions() or [0])[-1] + 1
        while True:
            try:
                (self.directory / str(version)).mkdir()
                break
            except FileExistsError:
                version += 1
        folder = self.directory / str(version)
        import skops.io as sio  # with scikit-learn: seconds to import, only when a model is stored

        sio.dump(classifier, folder / MODEL_FILE)
        meta = {**meta, "version": version}
        # Not sorted: the order of the columns is the order of the model's features.
        (folder / META_FILE).write_text(json.dumps(_finite(meta), indent=2))
        return version

    def load(self, version: int) -> ChurnModel:
        meta = self.meta(version)
        path = self.directory / str(version) / MODEL_FILE
        import skops.io as sio  # with scikit-learn: seconds to import, only when a model is loaded

        untrusted = set(sio.get_untrusted_types(file=path))
        if unexpected := untrusted - ALLOWED_TYPES:
            raise RegistryError(
                f"Model version {version} contains types not allowed in a model file: {sorted(unexpected)}"
            )
        classifier = sio.load(path, trusted=sorted(untrusted))
        return ChurnModel(version=version, meta=meta, classifier=classifier, encoder=Encoder.from_dict(meta["encoder"]))

    def _log(self) -> list[dict]:
        path = self.directory / PROMOTIONS
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def promoted(self) -> int | None:
        log = self._log()
        return log[-1]["version"] if log else None

    def promote(self, version: int | None, *, action: str = "promote", note: str = "") -> None:
        """Make `version` the scoring model; None retires models (the rules score again)."""
        if version is not None:
            self.meta(version)  # must exist
        line = json.dumps({"version": version, "at": datetime.now(UTC).isoformat(), "action": action, "note": note})
        self.directory.mkdir(parents=True, exist_ok=True)
        # One short append is atomic; readers see the old or the new last line.
        fd = os.open(self.directory / PROMOTIONS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def _stack(self) -> list[int]:
        """Promoted versions, most recent last; a rollback pops back to the version it names."""
        stack: list[int] = []
        for entry in self._log():
            if entry["action"] == "rollback" and entry["version"] in stack:
                while stack[-1] != entry["version"]:
                    stack.pop()
            else:
                stack.append(entry["version"])
        return stack

    def rollback(self, to: int | None = None) -> int:
        """Promote `to`, or the version that was promoted before the current one; returns it."""
        stack = self._stack()
        if not stack or stack == [None]:
            raise RegistryError("No model has been promoted; nothing to roll back")
        if to is None:
            if len(stack) < 2:
                raise RegistryError(f"Version {stack[-1]} is the first one promoted; name a version to roll back to")
            to = stack[-2]
        self.promote(to, action="rollback", note=f"from {stack[-1]}")
        return to

    def promotion_stamp(self) -> float | None:
        """Changes whenever the promotion log does (replicas reload the model on a change)."""
        try:
            return (self.directory / PROMOTIONS).stat().st_mtime_ns
        except FileNotFoundError:
            return None


def _finite(value):
    """JSON has no NaN: undefined figures are stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
