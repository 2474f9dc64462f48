"""Churn risk, rules v1: additive points with caps, so every score explains itself.

    factor         counts                                          points    cap
    complaints     complaints opened                               20 each    40
    low_csat       CSAT answers of 2 or less (CSAT is 1-5)         10 each    20
    nps_detractor  NPS answers of 0-6 (detractors)                 10 each    20
    aum_drop       assets 30% or more below the highest seen       20         20

A factor contributes min(occurrences x points, cap); the score is the sum of the contributions.
The caps add up to 100, so the score is 0-100 without clamping, and no single kind of signal
reaches high on its own (the largest cap is 40).

The score over 100 is the probability the bands (settings) apply to: with the default bands,
low below 40, medium from 40, high from 70. These rules score when no model is promoted.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from services.churn.features.definitions import LOW_CSAT_MAX, NPS_DETRACTOR_MAX

MODEL = "rules-v1"
AUM_DROP = Decimal("0.30")


class Features(Protocol):
    complaints: int
    low_csat: int
    nps_detractors: int
    assets_under_management: Decimal | None
    peak_assets: Decimal | None


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


def contributions(features: Features) -> list[tuple[str, int, str]]:
    """(factor, points, explanation) per factor; the score is the sum of the points."""
    out = []
    for factor in FACTORS:
        n = factor.occurrences(features)
        explanation = f"{factor.counts}: {n} x {factor.points} points, at most {factor.cap}"
        out.append((factor.code, min(n * factor.points, factor.cap), explanation))
    return out
