"""The platform's clock: every domain module asks it for the time, so tests can move it.

from services.kit.clock import now
with clock.frozen_at(datetime(2026, 1, 1, tzinfo=UTC)): ...   # in tests
with clock.shifted(timedelta(hours=25)): ...                  # in tests
with clock.movable(start) as moment: moment.to(later)          # in tests
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

_source: ContextVar[Callable[[], datetime]] = ContextVar("clock_source", default=lambda: datetime.now(UTC))


def now() -> datetime:
    """The current time, time-zone aware (UTC)."""
    return _source.get()()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Within the block (and tasks started in it), the clock stands still at `moment`."""
    token = _source.set(lambda: moment)
    try:
        yield
    finally:
        _source.reset(token)


@contextmanager
def shifted(offset: timedelta) -> Iterator[None]:
    """Within the block, the clock runs `offset` ahead of real time."""
    outer = _source.get()
    token = _source.set(lambda: outer() + offset)
    try:
        yield
    finally:
        _source.reset(token)


class MovableMoment:
    def __init__(self, moment: datetime):
        self.moment = moment

    def to(self, moment: datetime) -> None:
        self.moment = moment


@contextmanager
def movable(start: datetime) -> Iterator[MovableMoment]:
    """Within the block, the clock stands still where the test puts it (`.to(moment)`)."""
    state = MovableMoment(start)
    token = _source.set(lambda: state.moment)
    try:
        yield state
    finally:
        _source.reset(token)
