"""Routes without login (token_bearer): declared safely in the policy, calls limited per client."""

from pathlib import Path

import pytest
import yaml

from gateway.limits import RateLimits
from gateway.policy import Policy, load_policy
from services.kit.problems import TooManyRequests

POLICY_FILE = Path(__file__).resolve().parents[3] / "gateway" / "policy.yaml"


def _with_route(**route) -> dict:
    document = yaml.safe_load(POLICY_FILE.read_text())
    document["routes"].append({"method": "POST", "path": "/api/v1/x", "upstream": "feedback", **route})
    return document


def test_the_survey_answer_route_takes_no_login_and_only_a_token():
    [route] = [r for r in load_policy(POLICY_FILE).routes if r.path == "/api/v1/survey-answers" and r.method == "POST"]
    assert route.roles == [] and not route.customer_data
    assert route.token_bearer is not None
    assert route.token_bearer.body_field == "token" and route.token_bearer.per_minute <= 60


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"roles": [], "customer_data": True}])
def test_a_token_bearer_route_may_name_neither_roles_nor_customer_data(extra):
    document = _with_route(token_bearer={"body_field": "token", "pattern": ".+", "per_minute": 5}, **extra)
    with pytest.raises(ValueError, match="token_bearer"):
        Policy.model_validate(document)


def test_a_route_without_roles_must_be_token_bearer():
    with pytest.raises(ValueError, match="no role may call it"):
        Policy.model_validate(_with_route(roles=[]))


async def test_calls_beyond_the_limit_per_client_are_refused():
    limits = RateLimits("3/minute")
    for _ in range(3):
        await limits.hit("/r:10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        await limits.hit("/r:10.0.0.1")
    assert int(refused.value.headers["Retry-After"]) >= 1
    await limits.hit("/r:10.0.0.2")  # another client has its own allowance
