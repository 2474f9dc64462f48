"""Every id a service route takes in its path is typed by services/kit/params.py, so a value no
column can hold (a NUL byte, an over-long id, a number past the column) is a 422, never a 500."""

from services.components import COMPONENTS
from services.kit.params import ID_PATTERN
from tests.support import openapi_document


def _path_parameters():
    for component in sorted(set(COMPONENTS) - {"gateway"}):
        document = openapi_document(component)
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        yield component, f"{method.upper()} {path}", parameter["name"], parameter["schema"]


def test_every_path_id_follows_the_shared_rule():
    found = list(_path_parameters())
    assert found
    untyped = [
        (component, route, name)
        for component, route, name, schema in found
        if schema.get("pattern") != ID_PATTERN
        and not (schema.get("type") == "integer" and schema.get("minimum") == 1 and schema.get("maximum") == 2**31 - 1)
    ]
    assert untyped == [], untyped
