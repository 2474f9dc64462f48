"""Retention limits come from configuration over the defaults, per category, and are checked."""

from datetime import date

import pytest

from services.churn.settings import ChurnSettings
from services.kit.retention import DEFAULT_RETENTION_DAYS, retention_policy
from services.profile.tiers import add_months


def test_configured_limits_override_the_defaults_category_by_category(monkeypatch):
    assert retention_policy({}) == DEFAULT_RETENTION_DAYS
    monkeypatch.setenv("CHURN_RETENTION_DAYS", '{"behaviour": 90}')
    assert ChurnSettings().retention_days == {**DEFAULT_RETENTION_DAYS, "behaviour": 90}


@pytest.mark.parametrize(
    "configured, message",
    [
        ({"hobbies": 10}, "unknown data categories"),
        ({"basic": -1}, "zero or more"),
    ],
)
def test_unknown_categories_and_negative_limits_are_refused(configured, message):
    with pytest.raises(ValueError, match=message):
        retention_policy(configured)
    with pytest.raises(ValueError, match=message):
        ChurnSettings(retention_days=configured)


def test_review_due_dates_keep_the_day_or_take_the_months_last():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert add_months(date(2026, 6, 30), 12) == date(2027, 6, 30)
