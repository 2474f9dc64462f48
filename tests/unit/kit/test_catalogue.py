"""The data catalogue covers every column of every component, and its flags drive the columns."""

import pytest

from services.components import COMPONENTS, spec_of
from services.kit.catalogue import Category, Erasure, undeclared_columns
from services.kit.crypto import EncryptedText


@pytest.fixture(scope="module")
def specs():
    return {name: spec_of(name) for name in COMPONENTS}


def _declaration_hint(component: str, missing: list[str]) -> str:
    tables = sorted({m.split(".")[0] for m in missing})
    return (
        f"{component} stores fields the data catalogue does not declare: {', '.join(missing)}.\n"
        f"Declare each once in {component}'s declarations module (services/{component}/declarations.py; the "
        f"gateway's: gateway/declarations.py) with services.kit.catalogue.table(...) / field(name, category, "
        f"description, sensitivity=..., encrypted=..., identifying=..., erasure=...) and add the table(s) "
        f"{', '.join(tables)} to its Catalogue. Personal data: encrypted=True and take the column's type from "
        f"CATALOGUE.column_type(table, field, plain_type); regenerate docs/record-of-processing.md with "
        f"`python -m services.kit.ropa > docs/record-of-processing.md`."
    )


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_every_column_of_every_model_is_declared(specs, component):
    spec = specs[component]
    assert spec.catalogue is not None, f"{component}'s ServiceSpec has no catalogue="
    missing = undeclared_columns(spec.catalogue, spec.metadata)
    assert not missing, _declaration_hint(component, missing)


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_a_column_is_encrypted_exactly_when_declared_encrypted(specs, component):
    spec = specs[component]
    for table in spec.metadata.sorted_tables:
        for column in table.columns:
            declared = spec.catalogue.field(table.name, column.name)
            assert isinstance(column.type, EncryptedText) == declared.encrypted, (
                f"{component} {table.name}.{column.name}: declared encrypted={declared.encrypted} but the column type "
                f"is {type(column.type).__name__}; take it from CATALOGUE.column_type({table.name!r}, {column.name!r}, ...)"
            )


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_every_declared_table_exists(specs, component):
    spec = specs[component]
    assert set(spec.catalogue.tables) <= set(spec.metadata.tables), "a declared table is not in the models"


def test_personal_data_is_encrypted_and_destroyed_on_erasure(specs):
    """Every field declared sensitive beyond internal that holds a value about the person (not a
    reason or notice the bank wrote) is encrypted and destroyed by erasure."""
    for spec in specs.values():
        for declared in spec.catalogue.fields():
            if declared.encrypted:
                assert declared.erasure is Erasure.DESTROY, f"{declared.table}.{declared.name}"
            if declared.sensitivity == "restricted":
                assert declared.encrypted, (
                    f"{spec.name} {declared.table}.{declared.name} is restricted but not encrypted"
                )


def test_the_erased_values_come_from_the_declarations(specs):
    feedback = specs["feedback"].catalogue
    assert feedback.erased_values("feedback") == {"comment": None}
    assert feedback.erased_values("cases") == {"description": None}
    assert feedback.erased_values("case_notes") == {"body": None}
    profile = specs["profile"].catalogue
    assert set(profile.erased_values("customers")) == {
        "name",
        "national_id",
        "phone",
        "email",
        "birth_date",
        "address",
        "national_id_index",
        "phone_index",
        "external_ref",
        "nationality",
        "residence_country",
        "occupation",
    }
    assert all(f.category in Category for spec in specs.values() for f in spec.catalogue.fields())


def test_the_record_of_processing_activities_is_up_to_date():
    from pathlib import Path

    from services import ropa

    committed = Path(__file__).parents[3] / "docs" / "record-of-processing.md"
    assert committed.read_text() == ropa.render(), "run: python -m services.ropa > docs/record-of-processing.md"
