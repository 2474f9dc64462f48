"""Keyset pagination, the one way every list route pages: ordered by a tuple of columns ending in
a unique one, with an opaque cursor naming the last row of the page.

    KEYSET = Keyset(Document.expires_on, Document.id)               # descending=True: newest first
    query = KEYSET.apply(sa.select(Document).where(...), after, limit)
    items, next_cursor = KEYSET.page(list(await session.scalars(query)), limit)
"""

import base64
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query

from services.kit.db import ColumnLike
from services.kit.problems import Problem

After = Annotated[str | None, Query(max_length=512, description="Cursor from the previous page (`next_cursor`).")]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]


class InvalidCursor(Problem):
    status = 422
    title = "Invalid request"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decode(value: Any, python_type: type) -> Any:
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is Decimal:
        return Decimal(value)
    if not isinstance(value, python_type):
        raise TypeError(value)
    return value


class Keyset:
    def __init__(self, *columns: ColumnLike, descending: bool = False):
        self.columns = columns
        self.descending = descending
        self.types = [column.type.python_type for column in columns]
        self.keys: list[str] = []  # the attribute of a row each column is read from
        for column in columns:
            if column.key is None:
                raise ValueError("a keyset column must be a named column")
            self.keys.append(column.key)

    def apply(self, query: sa.Select, after: str | None, limit: int) -> sa.Select:
        """`query` ordered by the key, starting after the cursor, one row more than a page (to
        tell whether another page follows)."""
        order = [column.desc() for column in self.columns] if self.descending else self.columns
        query = query.order_by(*order).limit(limit + 1)
        if after is not None:
            key, cursor = sa.tuple_(*self.columns), sa.tuple_(*self._parse(after))
            query = query.where(key < cursor if self.descending else key > cursor)
        return query

    def page(self, rows: Sequence, limit: int, keyed: Callable[[Any], Any] | None = None) -> tuple[list, str | None]:
        """The page's rows and the cursor of the next page (None at the end); `keyed` gives the
        object holding the key columns of a row that is not that object itself."""
        items = list(rows[:limit])
        if len(rows) <= limit:
            return items, None
        last = keyed(items[-1]) if keyed else items[-1]
        key = [_encode(getattr(last, name)) for name in self.keys]
        return items, base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")

    def _parse(self, cursor: str) -> list[sa.BindParameter]:
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if not isinstance(raw, list) or len(raw) != len(self.columns):
                raise ValueError(cursor)
            values = [_decode(value, python_type) for value, python_type in zip(raw, self.types, strict=True)]
        except (ValueError, TypeError):
            raise InvalidCursor("`after` is not a cursor this list returned; start again without it.") from None
        return [sa.literal(value, type_=column.type) for value, column in zip(values, self.columns, strict=True)]
