"""requirements.lock (what `make install` installs, with hashes) holds every pin of pyproject.toml."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_every_pin_is_in_the_lock_file_at_its_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    locked = dict(re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M))
    locked = {_name(name): version for name, version in locked.items()}
    missing = [pin for pin in pins if locked.get(_name(pin)) != pin.split("==", 1)[1].split(";")[0].strip()]
    assert missing == [], f"run `make lock`: {missing}"
