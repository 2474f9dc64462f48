"""Calls per client and minute for routes that take no login (token_bearer in policy.yaml).

A moving window in memory, per gateway replica: with N replicas a client gets at most N times
the limit, still far too few guesses against a 256-bit token.
"""

import time
from collections import deque

from services.kit.problems import Problem


class TooManyRequests(Problem):
    status = 429
    title = "Too many requests"


class RateLimiter:
    MAX_CLIENTS = 100_000

    def __init__(self):
        self._calls: dict[tuple[str, str], deque[float]] = {}

    def check(self, key: tuple[str, str], per_minute: int) -> None:
        moment = time.monotonic()
        calls = self._calls.get(key)
        if calls is None:
            if len(self._calls) >= self.MAX_CLIENTS:
                self._forget_idle(moment)
            calls = self._calls[key] = deque()
        while calls and calls[0] <= moment - 60:
            calls.popleft()
        if len(calls) >= per_minute:
            raise TooManyRequests(f"At most {per_minute} calls a minute; retry in a minute.",
                                  retry_after=int(61 - (moment - calls[0])))
        calls.append(moment)

    def _forget_idle(self, moment: float) -> None:
        for key in [k for k, calls in self._calls.items() if not calls or calls[-1] <= moment - 60]:
            del self._calls[key]
        if len(self._calls) >= self.MAX_CLIENTS:
            self._calls.clear()
