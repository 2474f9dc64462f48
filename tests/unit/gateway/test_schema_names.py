"""The gateway merges the services' OpenAPI components by name: no two services may publish
different schemas under one name (a clash once described consent decisions wrongly)."""

from services.components import COMPONENTS
from tests.support import openapi_document


def test_no_two_services_publish_different_schemas_under_one_name():
    seen: dict[str, tuple[str, dict]] = {}
    clashes = []
    for component in sorted(set(COMPONENTS) - {"gateway"}):
        schemas = openapi_document(component).get("components", {}).get("schemas", {})
        for name, schema in schemas.items():
            if name in seen and seen[name][1] != schema:
                clashes.append(f"{name}: {seen[name][0]} and {component}")
            seen.setdefault(name, (component, schema))
    assert clashes == [], clashes
