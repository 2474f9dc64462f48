"""Three tiers, one folder and marker each (see README, Tests):

tests/unit      pure functions; no database, no broker, no processes
tests/service   one component in process on its own real PostgreSQL database
tests/system    processes, the broker, the gateway, outages, end to end
"""

import gc
import os
from pathlib import Path

import pytest

# One compute thread per test process. The models the tests train are small, and on a CI
# runner's few shared cores LightGBM's spinning OpenMP threads (as many as joblib counts cores,
# hence LOKY_MAX_CPU_COUNT) contend with each other and with the servers under test: one thread
# trains the same model, with the same result, several times faster. Set before anything imports
# lightgbm, numpy or scikit-learn; server processes inherit it.
for _variable in ("LOKY_MAX_CPU_COUNT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Hypothesis, on import, runs the hooks other installed packages register with it; none serves
# these tests (trio's, the one installed, registers trio's random generator and, once the heap is
# frozen below, warns that it cannot keep a reference to it).
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

TIERS = ("unit", "service", "system")


# System-tier modules whose tests run only on systems of their own, never on the session's
# `system`: under `make test` each is a unit of work of its own, so they need not wait for the
# worker that runs the session's system (see pytest_xdist_make_scheduler).
APART = (
    "tests/system/events/test_delivery.py",
    "tests/system/profile/test_backup_restore.py",
    "tests/system/profile/test_point_in_time_recovery.py",
    "tests/system/security/test_api6_unrestricted_access_to_sensitive_business_flows.py",
    "tests/system/test_broker_outage.py",
    "tests/system/test_restore_drill.py",
    "tests/system/test_tracing.py",
)


def pytest_collection_modifyitems(items):
    root = Path(__file__).parent
    for item in items:
        path = Path(item.fspath).relative_to(root)
        tier = path.parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
        # Another worker would start a second session system beside the first, and on a shared
        # broker (CI's) their consumers would share groups and take each other's events.
        if f"tests/{path.as_posix()}" in APART and "system" in item.fixturenames:
            raise pytest.UsageError(f"{item.nodeid} uses the session's system: take its module out of APART")


def pytest_xdist_make_scheduler(config, log):
    """`make test` (`-n 2 --dist loadgroup`): the system tests on the session's system are one
    unit of work, so one worker takes them all (the session starts the system once), while the
    other takes the modules that run systems of their own (APART) and the unit and service tests
    one by one. The system tier mostly waits (outages, quiet periods, processes starting), so
    the rest runs in its idle time. xdist's own loadgroup would need an `xdist_group` mark on
    every system test, and it applies marks by rewriting node ids, which pytest 9 no longer
    allows (pytest-xdist 3.8.0)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SessionSystemOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if module in APART:
                return module
            return "system" if module.startswith("tests/system/") else nodeid

    return SessionSystemOnOneWorker(config, log)


_yielding = False


def pytest_runtest_setup(item):
    """In `make test`, the worker on the unit and service tiers runs at a lower priority: the
    system tier's processes are answered first and the fast tiers take the cores they leave idle,
    so the system tier (the longer one) is not slowed by them."""
    global _yielding
    if not _yielding and getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("system") is None:
        os.nice(10)
        _yielding = True


def pytest_collection_finish(session):
    # What collection imported and built (modules, models, apps' routes) lives for the whole run:
    # frozen, it is left out of the collector's full passes during the tests and of the passes
    # pytest makes at the end to surface unraisable exceptions (those come from objects the tests
    # create, which are not frozen).
    gc.collect()
    gc.freeze()
