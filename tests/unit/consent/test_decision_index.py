"""The consent decision index (services.consent.service.DecisionIndex): what it holds is used only
while its follower is provably current; a drop reaches every read begun before it; it is bounded."""

import time
from datetime import UTC, datetime, timedelta

from services.consent.service import ConsentSnapshot, DecisionIndex

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAIR = ("cust-1", "insurer.one")


def consent(*history: tuple[datetime, str]) -> ConsentSnapshot:
    return ConsentSnapshot(
        id="c-1",
        purpose="marketing",
        created_at=T0,
        expires_at=None,
        categories=frozenset({"basic"}),
        history=tuple(history),
    )


def current_index(**bounds) -> DecisionIndex:
    index = DecisionIndex("-", **{"customers": 10, "ttl_seconds": 600, **bounds})
    index.follower._current_as_of = float("inf")  # as if its follower had just proved itself current
    return index


def test_the_status_at_a_moment_is_that_of_the_last_change_by_then():
    held = consent((T0, "active"), (T0 + timedelta(days=1), "revoked"))
    assert held.status_at(T0 - timedelta(seconds=1)) is None
    assert held.status_at(T0) == "active"
    assert held.status_at(T0 + timedelta(hours=23)) == "active"
    assert held.status_at(T0 + timedelta(days=2)) == "revoked"


def test_what_it_keeps_is_used_only_while_its_follower_is_current():
    index = current_index()
    index.keep(*PAIR, (consent((T0, "active")),), index.epoch)
    assert index.get(*PAIR) is not None
    index.follower._current_as_of = time.monotonic() - index.follower.freshness_seconds  # the proof lapsed
    assert index.get(*PAIR) is None


def test_a_change_drops_the_customer_and_any_read_begun_before_it():
    index = current_index()
    index.keep(*PAIR, (consent((T0, "active")),), index.epoch)
    index.keep("cust-2", "insurer.one", (), index.epoch)
    read_began = index.epoch
    index.forget(["cust-1"])
    assert index.get(*PAIR) is None
    assert index.get("cust-2", "insurer.one") == ()  # another customer's stay
    index.keep(*PAIR, (consent((T0, "active")),), read_began)  # read before the change: not kept
    assert index.get(*PAIR) is None
    index.keep(*PAIR, (consent((T0, "active"), (T0, "revoked")),), index.epoch)
    assert index.get(*PAIR) is not None


def test_a_restarted_follower_starts_it_afresh():
    index = current_index()
    index.keep(*PAIR, (), index.epoch)
    read_began = index.epoch
    index.clear()
    assert index.get(*PAIR) is None
    index.keep(*PAIR, (), read_began)
    assert index.get(*PAIR) is None


def test_it_is_bounded_and_forgets_after_its_lifetime():
    index = current_index(customers=2, ttl_seconds=0.2)
    for customer in ("cust-1", "cust-2", "cust-3"):
        index.keep(customer, "insurer.one", (), index.epoch)
    assert index.get("cust-1", "insurer.one") is None  # the least recently used went first
    assert index.get("cust-3", "insurer.one") == ()
    time.sleep(0.25)
    assert index.get("cust-3", "insurer.one") is None
