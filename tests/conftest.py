"""Three tiers, one folder and marker each (see README, Tests):

tests/unit      pure functions; no database, no broker, no processes
tests/service   one component in process on its own real PostgreSQL database
tests/system    processes, the broker, the gateway, outages, end to end
"""

from pathlib import Path

import pytest

TIERS = ("unit", "service", "system")


def pytest_collection_modifyitems(items):
    root = Path(__file__).parent
    for item in items:
        tier = Path(item.fspath).relative_to(root).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
