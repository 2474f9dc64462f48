"""Training and scoring files: the spec that says what the columns mean, reading a file against
it, and turning values into the numeric matrix a model reads.

    id: CustomerId             # column that identifies a row
    label: Exited              # column that says the customer left (training only)
    positive: 1                # label value meaning "left"; default 1
    time: SnapshotDate         # optional: validate on the latest rows instead of a random sample
    columns:                   # the only columns used; others are ignored
      CreditScore: numeric
      Geography: categorical
      IsActiveMember: boolean

A blank or malformed value is missing, never an error (the report counts them). A file that
does not match its spec (a column missing, a row with too many or too few fields, a blank or
repeated id) is refused with a message naming the column and the line.
"""

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

COLUMN_TYPES = ("numeric", "categorical", "boolean")
TRUE = {"1", "true", "t", "yes", "y"}
FALSE = {"0", "false", "f", "no", "n"}
# Categories seen fewer times than this in training are treated as unknown (missing).
MIN_CATEGORY_COUNT = 5
MAX_CATEGORIES = 200


class DataError(ValueError):
    """The file or spec cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Spec:
    id: str
    columns: dict[str, str]
    label: str | None = None
    positive: str = "1"
    time: str | None = None

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "spec") -> "Spec":
        if not isinstance(raw, dict):
            raise DataError(f"{source}: expected a mapping with id, label, columns")
        for key in ("id", "columns"):
            if key not in raw:
                raise DataError(f"{source}: `{key}` is required")
        columns = raw["columns"]
        if not isinstance(columns, dict) or not columns:
            raise DataError(f"{source}: `columns` must map column names to numeric, categorical or boolean")
        for name, kind in columns.items():
            if kind not in COLUMN_TYPES:
                raise DataError(f"{source}: column {name!r} has type {kind!r}; use numeric, categorical or boolean")
        special = {raw["id"], raw.get("label"), raw.get("time")} - {None}
        if clash := special & set(columns):
            raise DataError(
                f"{source}: {', '.join(sorted(map(str, clash)))} cannot be both a feature column and the id, label or time"
            )
        positive = raw.get("positive", 1)
        return cls(
            id=str(raw["id"]),
            columns={str(k): str(v) for k, v in columns.items()},
            label=str(raw["label"]) if raw.get("label") is not None else None,
            positive=str(positive).strip() if not isinstance(positive, bool) else str(int(positive)),
            time=str(raw["time"]) if raw.get("time") is not None else None,
        )

    @classmethod
    def load(cls, path: str | Path) -> "Spec":
        try:
            raw = yaml.load(Path(path).read_text(), Loader=yaml.CSafeLoader)
        except (OSError, yaml.YAMLError) as error:
            raise DataError(f"{path}: cannot read the spec ({error})") from None
        return cls.from_dict(raw, source=str(path))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "positive": self.positive,
            "time": self.time,
            "columns": self.columns,
        }


@dataclass
class Table:
    """A file read against a spec: raw text values, one row per data line."""

    ids: np.ndarray
    frame: pd.DataFrame  # the spec's feature columns, as text ("" for blank)
    label: np.ndarray | None  # 1 left, 0 stayed; rows with a blank label are dropped
    times: np.ndarray | None
    lines: np.ndarray  # file line number of each row (the header is line 1)
    dropped_blank_label: int = 0
    fingerprint: str = ""


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_widths(path: Path, header: list[str]) -> None:
    """Every record has as many fields as the header (pandas fills short rows silently)."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if len(row) != len(header) and row:
                which = "fewer" if len(row) < len(header) else "more"
                raise DataError(
                    f"{path}: line {reader.line_num} has {which} fields ({len(row)}) than the header "
                    f"({len(header)}); column {header[min(len(row), len(header) - 1)]!r} is off"
                )


def _read_raw(path: Path, needed: list[str]) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise DataError("Reading Parquet needs pyarrow: pip install 'bank-crm[parquet]'") from None
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: column {missing[0]!r} named in the spec is not in the file (line 1 has no such column)"
            )
        return frame[needed].astype("string").fillna("").astype(object)
    try:
        header = pd.read_csv(path, nrows=0, dtype=str).columns.tolist()
    except (OSError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the file ({error})") from None
    missing = [c for c in needed if c not in header]
    if missing:
        raise DataError(f"{path}: column {missing[0]!r} named in the spec is not in the header (line 1)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, engine="c")
    except pd.errors.ParserError as error:
        # pandas says e.g. "Expected 11 fields in line 7, saw 12".
        raise DataError(f"{path}: the file does not match its header: {str(error).strip()}") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error})") from None
    _check_widths(path, header)
    return frame[needed]


def read_table(path: str | Path, spec: Spec, *, with_label: bool) -> Table:
    """Read `path` (CSV, or Parquet by extension) against `spec`."""
    path = Path(path)
    label_column = spec.label if with_label else None
    if with_label and label_column is None:
        raise DataError("The spec names no `label` column; training needs one")
    needed = [spec.id, *spec.columns]
    if label_column is not None:
        needed.append(label_column)
    if spec.time:
        needed.append(spec.time)
    raw = _read_raw(path, list(dict.fromkeys(needed)))
    lines = np.arange(2, len(raw) + 2)
    ids = raw[spec.id].astype(str).str.strip().to_numpy()
    blank = ids == ""
    if blank.any():
        raise DataError(f"{path}: line {int(lines[blank][0])} has a blank {spec.id!r} (the id column)")
    repeated = pd.Series(ids).duplicated().to_numpy()
    if repeated.any():
        raise DataError(f"{path}: line {int(lines[repeated][0])} repeats an earlier {spec.id!r}; ids must be unique")
    label = None
    dropped = 0
    if label_column is not None:
        values = raw[label_column].astype(str).str.strip()
        keep = (values != "").to_numpy()
        dropped = int((~keep).sum())
        raw, ids, lines, values = raw[keep], ids[keep], lines[keep], values[keep]
        label = (values == spec.positive).to_numpy().astype(np.int8)
    times = None
    if spec.time:
        times = pd.to_datetime(raw[spec.time], errors="coerce", utc=True).to_numpy()
        if pd.isna(times).any():
            line = int(lines[pd.isna(times)][0])
            raise DataError(f"{path}: line {line} has no valid time in {spec.time!r} (the spec's time column)")
    frame = raw[list(spec.columns)].reset_index(drop=True)
    return Table(
        ids=ids,
        frame=frame,
        label=label,
        times=times,
        lines=lines,
        dropped_blank_label=dropped,
        fingerprint=fingerprint(path),
    )


def _numeric(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values.astype(str).str.strip().str.replace(",", "", regex=False), errors="coerce").to_numpy(
        float
    )


def _boolean(values: pd.Series) -> np.ndarray:
    lowered = values.astype(str).str.strip().str.lower()
    out = np.full(len(values), np.nan)
    out[lowered.isin(TRUE).to_numpy()] = 1.0
    out[lowered.isin(FALSE).to_numpy()] = 0.0
    return out


def _one_numeric(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return float(value) if isinstance(value, bool) else math.nan
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _one_boolean(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower() if value is not None else ""
    return 1.0 if text in TRUE else 0.0 if text in FALSE else math.nan


@dataclass
class Encoder:
    """Spec columns to a float matrix: numbers as they are, booleans 0/1, categories as codes
    learned in training (unknown or rare: missing); missing is NaN, which both models handle."""

    columns: dict[str, str]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: dict[str, str]) -> "Encoder":
        categories = {}
        for name, kind in columns.items():
            if kind == "categorical":
                counts = frame[name].astype(str).str.strip().value_counts()
                counts = counts[(counts.index != "") & (counts >= MIN_CATEGORY_COUNT)]
                categories[name] = sorted(counts.index[:MAX_CATEGORIES].tolist())
        return cls(columns=dict(columns), categories=categories)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, kind in enumerate(self.columns.values()) if kind == "categorical"]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        matrix = np.empty((len(frame), len(self.columns)), dtype=float)
        for i, (name, kind) in enumerate(self.columns.items()):
            values = frame[name]
            if kind == "numeric":
                matrix[:, i] = _numeric(values)
            elif kind == "boolean":
                matrix[:, i] = _boolean(values)
            else:
                codes = pd.Index(self.categories[name]).get_indexer(values.astype(str).str.strip())
                matrix[:, i] = np.where(codes < 0, np.nan, codes)
        return matrix

    def transform_one(self, row: dict[str, Any]) -> np.ndarray:
        """One row from a mapping (online scoring), without a DataFrame's overhead."""
        out = np.empty((1, len(self.columns)), dtype=float)
        for i, (name, kind) in enumerate(self.columns.items()):
            value = row.get(name)
            if kind == "numeric":
                out[0, i] = _one_numeric(value)
            elif kind == "boolean":
                out[0, i] = _one_boolean(value)
            else:
                try:
                    out[0, i] = self.categories[name].index(str(value).strip()) if value is not None else math.nan
                except ValueError:
                    out[0, i] = math.nan
        return out

    def malformed(self, frame: pd.DataFrame) -> dict[str, int]:
        """Per column: values that are not blank yet could not be read (counted as missing)."""
        counts = {}
        encoded = self.transform(frame)
        for i, name in enumerate(self.columns):
            if self.columns[name] == "categorical":
                continue
            blank = (frame[name].astype(str).str.strip() == "").to_numpy()
            counts[name] = int((np.isnan(encoded[:, i]) & ~blank).sum())
        return counts

    def to_dict(self) -> dict:
        return {"columns": self.columns, "categories": self.categories}

    @classmethod
    def from_dict(cls, raw: dict) -> "Encoder":
        return cls(columns=dict(raw["columns"]), categories={k: list(v) for k, v in raw["categories"].items()})


def spec_fingerprint(spec: Spec) -> str:
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()
