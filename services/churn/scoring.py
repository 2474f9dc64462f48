"""Churn risk, rules v1: additive points with caps, so every score explains itself.

    factor         counts                                          points    cap
    complaints     complaints opened                               20 each    40
    low_csat       CSAT answers of 2 or less (CSAT is 1-5)         10 each    20
    nps_detractor  NPS answers of 0-6 (detractors)                 10 each    20
    aum_drop       assets 30% or more below the highest seen       20         20

A factor contributes min(occurrences x points, cap); the score is the sum of the contributions.
The caps add up to 100, so the score is 0-100 without clamping, and no single kind of signal
reaches high on its own (the largest cap is 40).

Levels: low below 40, medium from 40, high from 70.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

MODEL = "rules-v1"
LOW_CSAT_MAX = 2
NPS_DETRACTOR_MAX = 6
AUM_DROP = Decimal("0.30")

Level = Literal["low", "medium", "high"]
# (lowest score, level), highest first.
LEVELS: tuple[tuple[int, Level], ...] = ((70, "high"), (40, "medium"), (0, "low"))


class Features(Protocol):
    complaints: int
    low_csat: int
    nps_detractors: int
    assets_under_management: Decimal | None
    peak_assets: Decimal | None


def is_low_csat(survey: str, score: int) -> bool:
    return survey == "csat" and score <= LOW_CSAT_MAX


def is_nps_detractor(survey: str, score: int) -> bool:
    return survey == "nps" and score <= NPS_DETRACTOR_MAX


def _aum_dropped(f: Features) -> int:
    if f.assets_under_management is None or not f.peak_assets:
        return 0
    return int(f.assets_under_management <= f.peak_assets * (1 - AUM_DROP))


@dataclass(frozen=True)
class Factor:
    code: str
    counts: str  # what is counted, for the explanation
    points: int  # per occurrence
    cap: int
    occurrences: Callable[[Features], int]


FACTORS: tuple[Factor, ...] = (
    Factor("complaints", "complaints opened", 20, 40, lambda f: f.complaints),
    Factor("low_csat", f"CSAT answers of {LOW_CSAT_MAX} or less", 10, 20, lambda f: f.low_csat),
    Factor("nps_detractor", f"NPS answers of {NPS_DETRACTOR_MAX} or less", 10, 20, lambda f: f.nps_detractors),
    Factor("aum_drop", f"assets {AUM_DROP:.0%} or more below the highest seen", 20, 20, _aum_dropped),
)
assert sum(f.cap for f in FACTORS) == 100, "the caps must add up to the top of the 0-100 scale"


@dataclass(frozen=True)
class Contribution:
    factor: str
    points: int
    explanation: str


@dataclass(frozen=True)
class Assessment:
    score: int
    level: Level
    contributions: list[Contribution]

    @property
    def reasons(self) -> list[str]:
        """Codes of the factors that raised the score."""
        return [c.factor for c in self.contributions if c.points]


def assess(features: Features) -> Assessment:
    contributions = []
    for factor in FACTORS:
        n = factor.occurrences(features)
        explanation = f"{factor.counts}: {n} x {factor.points} points, at most {factor.cap}"
        contributions.append(Contribution(factor.code, min(n * factor.points, factor.cap), explanation))
    score = sum(c.points for c in contributions)
    level = next(level for floor, level in LEVELS if score >= floor)
    return Assessment(score, level, contributions)
