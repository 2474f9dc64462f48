"""Every column type of every component can be part of a statement's cache key: one that cannot
(a TypeDecorator without `cache_ok`) makes SQLAlchemy compile every statement touching its table
anew, on every request (profile's customer reads did so for their birth date)."""

import warnings

import pytest
from sqlalchemy.sql.cache_key import NO_CACHE
from sqlalchemy.types import TypeDecorator

from services.components import COMPONENTS, spec_of


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_every_column_type_is_cacheable(component):
    uncacheable = []
    for table in spec_of(component).metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, TypeDecorator):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the warning says what the assertion says
                    key = column.type._static_cache_key
                if key is NO_CACHE:
                    uncacheable.append(f"{table.name}.{column.name}: {type(column.type).__name__}")
    assert not uncacheable, uncacheable
