"""Online scoring: the promoted model on the event-fed features, explained by each feature's
contribution; the rules when no model is promoted (or the promoted one needs columns the events
do not yield). Bands come from settings.

Each replica reloads the model when the promotion log changes (one stat() per scoring).
"""

import math
from dataclasses import dataclass
from datetime import datetime

import structlog

from events.contracts.terms import ChurnBand
from services.churn.features.definitions import FEATURES, vector
from services.churn.model.registry import ChurnModel, Registry, RegistryError
from services.churn.risk import rules
from services.churn.settings import ChurnSettings

log = structlog.get_logger(__name__)
TOP_REASONS = 3


def rank(band: str) -> int:
    return list(ChurnBand).index(ChurnBand(band))


@dataclass(frozen=True)
class Contribution:
    factor: str
    points: float  # rules: points of the 0-100 score; model: log-odds added to the score
    value: float | str | None
    explanation: str


@dataclass(frozen=True)
class Assessment:
    probability: float
    level: str
    model: str
    model_version: int | None
    contributions: list[Contribution]

    @property
    def score(self) -> int:
        return round(self.probability * 100)

    @property
    def reasons(self) -> list[str]:
        """The features that raised the score most, largest first."""
        raising = sorted((c for c in self.contributions if c.points > 0), key=lambda c: -c.points)
        return [c.factor for c in raising[:TOP_REASONS]]


def _display(value) -> float | str | None:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


class OnlineScorer:
    def __init__(self, settings: ChurnSettings):
        self.settings = settings
        self._registry: Registry | None = None
        self._stamp: float | None = None
        self._model: ChurnModel | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.settings.models_path)
        return self._registry

    def model(self) -> ChurnModel | None:
        stamp = self.registry.promotion_stamp()
        if stamp != self._stamp:
            self._stamp, self._model = stamp, None
            version = self.registry.promoted()
            if version is not None:
                try:
                    model = self.registry.load(version)
                except RegistryError as error:
                    log.error("churn_model_unusable", version=version, problem=str(error))
                    return None
                unknown = [c for c in model.encoder.columns if c not in FEATURES]
                if unknown:
                    log.warning("churn_model_not_online", version=version, missing_feature=unknown[0])
                else:
                    self._model = model
                    log.info("churn_model_loaded", version=version)
        return self._model

    def assess(self, row, at: datetime) -> Assessment:
        model = self.model()
        if model is None:
            return self._rules(row)
        features = vector(row.state or {}, at)
        probability, contributions = model.explain(model.encoder.transform_one(features))
        p = float(probability[0])
        explained = []
        for i, name in enumerate(model.encoder.names):
            c = float(contributions[0, i])
            value = _display(features.get(name))
            direction = "raises" if c > 0 else "lowers" if c < 0 else "does not change"
            explained.append(Contribution(name, round(c, 4), value, f"{name} = {value} {direction} the risk"))
        explained.sort(key=lambda item: -abs(item.points))
        return Assessment(p, self.settings.band(p), model.name, model.version, explained)

    def _rules(self, row) -> Assessment:
        parts = rules.contributions(row)
        p = sum(points for _, points, _ in parts) / 100
        return Assessment(
            p,
            self.settings.band(p),
            rules.MODEL,
            None,
            [Contribution(factor, points, None, text) for factor, points, text in parts],
        )
