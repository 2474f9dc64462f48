"""docs/requirements.md maps each of the bank's requirements onto the code and the tests that show
it. This keeps the map true as code moves: every path it names exists, every test it names is
defined where it says, and every requirement names at least one test."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAP = ROOT / "docs" / "requirements.md"
# `tests/unit/x/test_y.py::test_z` or `tests/...::TestClass::test_z`
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)+)`")
# any other repository path in backticks: a module, a manifest, a document
PATH_REFERENCE = re.compile(r"`((?:gateway|services|events|deploy|docs|tests)/[\w./-]*[\w/])`")
SECTION = re.compile(r"^### (R\d+(?:\.\d+)?)\b", re.M)


def _defined(path: Path, names: list[str]) -> bool:
    """Whether `names` (a class path ending in a function, or a function) is defined in `path`."""
    body = ast.parse(path.read_text()).body
    for name in names:
        found = next(
            (
                node
                for node in body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name
            ),
            None,
        )
        if found is None:
            return False
        body = found.body if isinstance(found, ast.ClassDef) else []
    return True


def _sections() -> dict[str, str]:
    text = MAP.read_text()
    starts = list(SECTION.finditer(text))
    return {
        match.group(1): text[match.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        for i, match in enumerate(starts)
    }


def test_every_named_test_is_defined_where_the_map_says():
    missing = [
        f"{file}{names}"
        for file, names in TEST_REFERENCE.findall(MAP.read_text())
        if not (ROOT / file).is_file() or not _defined(ROOT / file, names.split("::")[1:])
    ]
    assert missing == [], f"docs/requirements.md names tests that are not there: {missing}"


def test_every_named_path_exists():
    missing = sorted({path for path in PATH_REFERENCE.findall(MAP.read_text()) if not (ROOT / path).exists()})
    assert missing == [], f"docs/requirements.md names paths that are not there: {missing}"


def test_each_requirement_once_and_shown_by_a_test():
    ids = SECTION.findall(MAP.read_text())
    assert len(ids) == len(set(ids)), f"a requirement appears twice: {ids}"
    unshown = [rid for rid, text in _sections().items() if not TEST_REFERENCE.search(text)]
    assert unshown == [], f"requirements no test is named for: {unshown}"
