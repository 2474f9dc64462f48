"""The profile's retention policy (R2.2): per data category, from PROFILE_RETENTION_DAYS over the
defaults, checked when the settings are read."""

import pytest

from services.profile.declarations import Category
from services.profile.retention import retention_days
from services.profile.settings import ProfileSettings


def test_the_policy_comes_from_settings_over_the_defaults(monkeypatch):
    assert retention_days(ProfileSettings()) == {
        Category.BASIC: 1825,
        Category.BUSINESS: 1825,
        Category.RISK: 1825,
        Category.BEHAVIOUR: 730,
    }
    monkeypatch.setenv("PROFILE_RETENTION_DAYS", '{"basic": 30}')
    assert retention_days(ProfileSettings())[Category.BASIC] == 30
    assert retention_days(ProfileSettings())[Category.BEHAVIOUR] == 730  # not named: the default stays
    with pytest.raises(ValueError, match="unknown data categories"):
        retention_days(ProfileSettings(retention_days={"hobbies": 10}))
    with pytest.raises(ValueError, match="zero or more"):
        retention_days(ProfileSettings(retention_days={"basic": -1}))
