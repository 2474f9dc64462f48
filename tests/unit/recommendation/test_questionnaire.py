"""The questionnaire is data; scoring maps points to C1-C5 and the lowest-category flag wins."""

import pytest

from services.recommendation.questionnaire import scoring

Q = scoring.load("2026.1")
BASE = {
    "legal_capacity": "yes",
    "loss_tolerance": "up_to_5",
    "experience": "none",
    "income": "unstable",
    "horizon": "under_1y",
    "liquidity": "within_month",
    "goal": "preservation",
    "vulnerability": "no",
}


@pytest.mark.parametrize(
    "answers, level",
    [
        (BASE, "C1"),
        ({**BASE, "loss_tolerance": "up_to_15", "experience": "deposits", "income": "stable", "horizon": "1_3y"}, "C2"),
        (
            {
                **BASE,
                "loss_tolerance": "up_to_15",
                "experience": "funds",
                "income": "stable",
                "horizon": "3_5y",
                "liquidity": "not_soon",
            },
            "C3",
        ),
        (
            {
                **BASE,
                "loss_tolerance": "up_to_30",
                "experience": "funds",
                "income": "stable",
                "horizon": "over_5y",
                "liquidity": "not_soon",
                "goal": "growth",
            },
            "C4",
        ),
        (
            {
                **BASE,
                "loss_tolerance": "over_30",
                "experience": "equities",
                "income": "very_stable",
                "horizon": "over_5y",
                "liquidity": "not_soon",
                "goal": "growth",
            },
            "C5",
        ),
    ],
)
def test_points_map_to_levels(answers, level):
    assert scoring.score(Q, answers).risk_level == level


@pytest.mark.parametrize("question, answer", [("legal_capacity", "no"), ("loss_tolerance", "none")])
def test_the_lowest_category_is_c1_whatever_the_points(question, answer):
    best = {
        **BASE,
        "experience": "equities",
        "income": "very_stable",
        "horizon": "over_5y",
        "liquidity": "not_soon",
        "goal": "growth",
        "loss_tolerance": "over_30",
    }
    result = scoring.score(Q, {**best, question: answer})
    assert (result.risk_level, result.lowest_category) == ("C1", True)


def test_answers_set_horizon_liquidity_goals_and_vulnerability():
    result = scoring.score(
        Q, {**BASE, "horizon": "3_5y", "liquidity": "within_year", "goal": "income", "vulnerability": "yes"}
    )
    assert (result.horizon_years, result.liquidity_days, result.goals, result.vulnerable) == (5, 365, ("income",), True)


def test_every_question_must_be_answered_from_its_own_answers():
    with pytest.raises(scoring.InvalidAnswers, match="unanswered: goal"):
        scoring.score(Q, {k: v for k, v in BASE.items() if k != "goal"})
    with pytest.raises(scoring.InvalidAnswers, match="not in version"):
        scoring.score(Q, {**BASE, "shoe_size": "42"})
    with pytest.raises(scoring.InvalidAnswers, match="horizon"):
        scoring.score(Q, {**BASE, "horizon": "forever"})
    assert scoring.versions() == ["2026.1"]
