"""OWASP API4:2023 Unrestricted Resource Consumption: JSON depth, rate limits (issue 7, items
6 and 7). Sizes, slow bodies and headers through the running gateway: tests/system/security."""

import pytest

from gateway.limits import RateLimits, check_json_depth, json_depth
from services.kit.problems import Problem, TooManyRequests


def test_json_depth_counts_nesting_but_not_brackets_inside_strings():
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[" * 1000 + b"]" * 1000) == 1000


def test_deeply_nested_json_is_a_400_not_a_recursion_error():
    with pytest.raises(Problem) as refused:
        check_json_depth(b"[" * 1000 + b"]" * 1000, 32)
    assert refused.value.status == 400
    check_json_depth(b'{"customer_id": "c-1", "data_categories": ["basic"]}', 32)


async def test_a_caller_over_their_limit_gets_429_with_retry_after():
    limits = RateLimits("3/minute")
    for _ in range(3):
        await limits.hit("caller:customer:c-1")
    with pytest.raises(TooManyRequests) as refused:
        await limits.hit("caller:customer:c-1")
    assert refused.value.status == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await limits.hit("caller:customer:c-2")  # limits are per caller
