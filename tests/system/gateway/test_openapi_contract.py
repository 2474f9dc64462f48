"""The merged OpenAPI document other teams build on: valid OpenAPI, and a typed Python client
generated from it (openapi-python-client, pinned) has a function for every route."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.timeout(600)

# The import route takes the file itself (text/csv or JSON Lines): the client sends it as bytes.
CLIENT_CONFIG = """\
project_name_override: bank-crm-client
package_name_override: bank_crm_client
post_hooks: []  # no formatter run on the generated code
content_type_overrides:
  text/csv: application/octet-stream
  application/x-ndjson: application/octet-stream
"""


async def test_merged_openapi_is_valid_and_generates_a_client_for_every_route(system, client, tmp_path):
    response = await client.get(f"{system.url('gateway')}/openapi.json", headers=system.headers("admin"))
    assert response.status_code == 200, response.text
    document = response.json()
    assert "x-unavailable-services" not in document["info"], "every service must contribute its routes"
    validate(document)  # raises with the first violation

    operations = [(method.upper(), path) for path, item in document["paths"].items() for method in item]
    assert ("POST", "/api/v1/customers/imports") in operations
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"

    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    config = tmp_path / "config.yaml"
    config.write_text(CLIENT_CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config),
            "--output-path",
            str(tmp_path / "bank_crm_client"),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "WARNING" not in output and "Unable" not in output, output

    # One module per operation, each calling its route; and the generated package imports.
    generated = {
        path.stem for path in (tmp_path / "bank_crm_client" / "api").rglob("*.py") if path.name != "__init__.py"
    }
    assert len(generated) == len(operations), (len(generated), len(operations), output)
    check = subprocess.run(
        [sys.executable, "-c", "import bank_crm_client.client, bank_crm_client.models"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr
