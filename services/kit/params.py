"""Request parameter types shared by every service."""

from datetime import date
from typing import Annotated

from fastapi import Path
from pydantic import AwareDatetime, BeforeValidator, StringConstraints

# Ids are opaque, but printable ASCII of at most 64 characters (the width of every customer id
# column): anything else, e.g. a NUL byte PostgreSQL cannot store, is a 422, not a 500.
ID_PATTERN = r"^[!-~]{1,64}$"
# Every id in a request path (a customer, a case, a task, a consent, a product code, ...): every
# service route that takes one types it so.
PathId = Annotated[str, Path(pattern=ID_PATTERN)]
CustomerId = PathId
# Ids the database numbers (INTEGER columns): a positive number that fits the column; a larger
# one is a 422, not a 500 from the driver.
IntegerPathId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The same rule for ids inside request bodies.
IdField = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def _text_not_number(value):
    # Pydantic would read 0 as 1970-01-01 (seconds since the epoch): dates come as ISO 8601 text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give dates and times as ISO 8601 text, not as a number")
    return value


# Dates and times in request bodies: ISO 8601 text only.
IsoDate = Annotated[date, BeforeValidator(_text_not_number)]
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_text_not_number)]
