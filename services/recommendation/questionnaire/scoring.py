"""Versioned questionnaires (data files beside this module) and their scoring into C1-C5."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from events.contracts.terms import RiskLevel

HERE = Path(__file__).parent


class Answer(BaseModel):
    id: str
    text: str
    points: int = Field(ge=0)
    lowest_category: bool = False
    vulnerable: bool = False
    horizon_years: int | None = None
    liquidity_days: int | None = None
    goals: list[str] = []


class Question(BaseModel):
    id: str
    text: str
    answers: list[Answer]


class Category(BaseModel):
    level: RiskLevel
    min_points: int


class Questionnaire(BaseModel):
    version: str
    validity_days: int
    categories: list[Category]
    questions: list[Question]


@cache
def load(version: str) -> Questionnaire:
    path = HERE / f"questionnaire_{version.replace('.', '_')}.yaml"
    if not path.is_file():
        raise KeyError(version)
    return Questionnaire.model_validate(yaml.load(path.read_text(), Loader=yaml.CSafeLoader))


def versions() -> list[str]:
    return sorted(p.stem.removeprefix("questionnaire_").replace("_", ".") for p in HERE.glob("questionnaire_*.yaml"))


@dataclass(frozen=True)
class Score:
    points: int
    risk_level: RiskLevel
    lowest_category: bool
    vulnerable: bool
    horizon_years: int | None
    liquidity_days: int | None
    goals: tuple[str, ...]


class InvalidAnswers(ValueError):
    pass


def score(questionnaire: Questionnaire, answers: dict[str, str]) -> Score:
    """Every question answered exactly once with one of its answers, or InvalidAnswers naming them."""
    expected = {q.id for q in questionnaire.questions}
    missing, unknown = sorted(expected - set(answers)), sorted(set(answers) - expected)
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"unanswered: {', '.join(missing)}")
        if unknown:
            problems.append(f"not in version {questionnaire.version}: {', '.join(unknown)}")
        raise InvalidAnswers("; ".join(problems))
    chosen: list[Answer] = []
    for question in questionnaire.questions:
        by_id = {a.id: a for a in question.answers}
        if answers[question.id] not in by_id:
            raise InvalidAnswers(f"{question.id}: answer one of {', '.join(by_id)}")
        chosen.append(by_id[answers[question.id]])
    points = sum(a.points for a in chosen)
    level = max((c for c in questionnaire.categories if points >= c.min_points), key=lambda c: c.min_points).level
    lowest = any(a.lowest_category for a in chosen)
    horizons = [a.horizon_years for a in chosen if a.horizon_years is not None]
    liquidity = [a.liquidity_days for a in chosen if a.liquidity_days is not None]
    return Score(
        points=points,
        risk_level=RiskLevel.C1 if lowest else level,
        lowest_category=lowest,
        vulnerable=any(a.vulnerable for a in chosen),
        horizon_years=min(horizons) if horizons else None,
        liquidity_days=min(liquidity) if liquidity else None,
        goals=tuple(sorted({g for a in chosen for g in a.goals})),
    )
