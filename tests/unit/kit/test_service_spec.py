"""A component's description is checked when it is made, not when its first event arrives."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.components import COMPONENTS, SETTINGS, migrations_of, spec_of
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


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_crm_migrate_finds_what_the_component_would_use(component):
    """`crm migrate` reads only the settings and the migrations folder (services/components.py):
    the same folder, database and settings class as the component's own spec."""
    spec = spec_of(component)
    folder, database_url = migrations_of(component)
    assert Path(folder).resolve() == Path(spec.migrations).resolve()
    assert database_url == spec.settings.database_url
    assert SETTINGS[component].endswith(f":{type(spec.settings).__name__}")
