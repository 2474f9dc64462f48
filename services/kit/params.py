"""Request parameter types shared by every service."""

from typing import Annotated

from fastapi import Path
from pydantic import StringConstraints

# Ids are opaque, but printable ASCII of at most 64 characters (the width of every customer id
# column): anything else, e.g. a NUL byte PostgreSQL cannot store, is a 422, not a 500.
ID_PATTERN = r"^[!-~]{1,64}$"
CustomerId = Annotated[str, Path(pattern=ID_PATTERN)]
# The same rule for ids inside request bodies.
IdField = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
