"""The backup scripts name the key ids a dump needs from the sealed columns of each component
(deploy/backup/key-ids.sh); that list must be the data catalogue's encrypted fields, or a dump
would be written without saying which keys its restore needs."""

import re
from pathlib import Path

from services.components import COMPONENTS, spec_of

KEY_IDS = Path(__file__).resolve().parents[3] / "deploy" / "backup" / "key-ids.sh"


def sealed_columns_in_script() -> dict[str, set[str]]:
    listed = re.findall(r'^\s*(\w+)\) sealed="([^"]*)"', KEY_IDS.read_text(), flags=re.MULTILINE)
    return {component: set(columns.split()) for component, columns in listed}


def test_the_key_id_script_lists_every_encrypted_field_of_every_component():
    declared = {}
    for component in COMPONENTS:
        catalogue = spec_of(component).catalogue
        columns = {f"{table}.{name}" for table in catalogue.tables for name in catalogue.encrypted(table)}
        if columns:
            declared[component] = columns
    assert declared, "no component declares an encrypted field"
    assert sealed_columns_in_script() == declared
