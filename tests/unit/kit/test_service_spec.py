"""A component's description is checked when it is made, not when its first event arrives."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.app import ServiceSpec
from services.kit.settings import ComponentSettings


async def _handler(session, envelope, payload) -> None:
    return None


def test_a_component_that_handles_events_without_an_inbox_is_refused():
    with pytest.raises(ValueError, match="needs an inbox table"):
        ServiceSpec(
            name="example",
            title="Example",
            description="",
            settings=ComponentSettings(),
            metadata=sa.MetaData(),
            migrations=Path("."),
            routers=[],
            handlers={"customer.created": _handler},
        )
