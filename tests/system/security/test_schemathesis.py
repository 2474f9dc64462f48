"""Property-based tests of the whole API as published: schemathesis generates requests from the
gateway's merged OpenAPI document and sends them as several roles; no answer may be a server
error or break the document's response schemas (masked values included).

Bounded by the number of generated cases, not by a clock (a time budget on a busy machine left
operations untested): CRM_SCHEMATHESIS_EXAMPLES per operation (default 3), five roles run side
by side, one worker each, a fixed seed; about 100 requests per role. A hard timeout per role
stops a hung run.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import new_customer

EXAMPLES = os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "3")
SECONDS_PER_ROLE = 240  # a hard stop only; the five runs together take about a minute
# The roles whose answers differ most: everything allowed, self-scoped, assigned-only, all masked,
# reason-bound with everything in clear.
ROLES = ["admin", "customer", "relationship_manager", "service_agent", "compliance_officer"]

pytestmark = pytest.mark.timeout(SECONDS_PER_ROLE + 120)


@pytest.fixture(scope="module")
def document_file(system, tmp_path_factory) -> Path:
    answer = httpx.get(f"{system.url('gateway')}/openapi.json", headers=system.headers("admin"), timeout=30)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert "x-unavailable-services" not in document["info"], document["info"]
    path = tmp_path_factory.mktemp("schemathesis") / "openapi.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="module")
def customer_id(system) -> str:
    """A real customer, so the customer role's own routes are exercised, not only refusals."""
    answer = httpx.post(
        f"{system.url('gateway')}/api/v1/customers",
        json=new_customer(),
        headers=system.headers("relationship_manager", "rm-fuzz"),
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def schemathesis_run(system, document_file: Path, customer_id: str, role: str, report_dir: Path) -> subprocess.Popen:
    """`st run` as `role`, started and left running; its output goes to files in `report_dir`
    (a pipe nobody reads until the role's turn would fill and stall the run)."""
    subject = {"customer": customer_id, "relationship_manager": "rm-fuzz"}.get(role, f"fuzz-{role}")
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        str(document_file),
        "--url",
        system.url("gateway"),
        "-H",
        f"Authorization: Bearer {system.token(role, subject)}",
        "-H",
        "X-Access-Reason: schemathesis run",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        EXAMPLES,
        "--phases",
        "examples,fuzzing",
        "--workers",
        "1",
        "--seed",
        "20261128",
        "--no-shrink",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--report-dir",
        str(report_dir),
        "--warnings",
        "off",
    ]
    with open(report_dir / "stdout.txt", "w") as stdout, open(report_dir / "stderr.txt", "w") as stderr:
        return subprocess.Popen(
            command, stdout=stdout, stderr=stderr, cwd=report_dir, env={**os.environ, "SCHEMATHESIS_HOOKS": ""}
        )


@pytest.fixture(scope="module")
def runs(system, document_file, customer_id, tmp_path_factory) -> Iterator[dict[str, tuple[subprocess.Popen, Path]]]:
    """Every role's run (process, report folder) started at once: each run mostly waits for
    answers, so together they keep both cores busy where one after another they left them half idle."""
    started = {}
    for role in ROLES:
        report_dir = tmp_path_factory.mktemp(f"st-{role}")
        started[role] = (schemathesis_run(system, document_file, customer_id, role, report_dir), report_dir)
    yield started
    for process, _ in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("role", ROLES)
def test_no_server_error_and_no_schema_violation(runs, role):
    process, report_dir = runs[role]
    returncode = process.wait(timeout=SECONDS_PER_ROLE)
    stdout, stderr = ((report_dir / name).read_text() for name in ("stdout.txt", "stderr.txt"))
    assert returncode == 0, f"{role}:\n{stdout[-6000:]}\n{stderr[-2000:]}"
    # Not a vacuous pass: every operation of the document was exercised.
    selected = re.search(r"Selected: (\d+)/", stdout)
    tested = re.search(r"Tested: (\d+)", stdout)
    assert selected and tested and tested.group(1) == selected.group(1), stdout[-3000:]
    assert "No issues found" in stdout, stdout[-3000:]
