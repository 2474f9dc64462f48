"""Activation (onboarding to active) is screened; without the settings the screening needs, the
move is refused, whatever the interpreter's flags (no `assert`, which `python -O` drops)."""

from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts.terms import Stage
from services.kit.identity import Actor
from services.profile import service
from services.profile.models import Customer


async def test_activation_without_the_screening_settings_is_refused_before_any_change():
    customer = Customer(id="c-1", lifecycle_stage=Stage.ONBOARDING.value, version=1)
    no_session = cast(AsyncSession, None)  # refused before the session is used
    with pytest.raises(TypeError, match="screening guard"):
        await service.move_stage(
            no_session, customer, Stage.ACTIVE, Actor("rm-1", "relationship_manager", None, None), "x"
        )
    assert (customer.lifecycle_stage, customer.version) == (Stage.ONBOARDING, 1)
