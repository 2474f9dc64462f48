"""Keyset pagination: cursors round-trip, follow the key's order, and refuse tampering."""

from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from services.kit.pagination import InvalidCursor, Keyset

table = sa.Table("t", sa.MetaData(), sa.Column("due", sa.Date()), sa.Column("id", sa.String(36)))
KEYSET = Keyset(table.c.due, table.c.id)


def test_a_full_page_names_its_last_row_and_a_short_one_ends():
    rows = [SimpleNamespace(due=date(2026, 1, d), id=f"x{d}") for d in (1, 2, 3)]
    items, cursor = KEYSET.page(rows, limit=2)
    assert [r.id for r in items] == ["x1", "x2"] and cursor is not None
    assert KEYSET.page(rows, limit=3) == (rows, None)

    query = str(KEYSET.apply(sa.select(table), cursor, 2).compile(compile_kwargs={"literal_binds": True}))
    assert "(t.due, t.id) > ('2026-01-02', 'x2')" in query
    assert "ORDER BY t.due, t.id" in query and "LIMIT 3" in query


@pytest.mark.parametrize("cursor", ["not-base64!", "WyJ4Il0", "eyJhIjogMX0", "WyJub3QtYS1kYXRlIiwgIngiXQ"])
def test_a_cursor_this_list_did_not_return_is_refused_clearly(cursor):
    with pytest.raises(InvalidCursor, match="not a cursor this list returned"):
        KEYSET.apply(sa.select(table), cursor, 10)


def test_a_newest_first_keyset_continues_below_the_last_row():
    newest_first = Keyset(table.c.due, table.c.id, descending=True)
    rows = [SimpleNamespace(answer=SimpleNamespace(due=date(2026, 1, d), id=f"x{d}")) for d in (3, 2, 1)]
    items, cursor = newest_first.page(rows, limit=2, keyed=lambda row: row.answer)
    assert items == rows[:2]

    query = str(newest_first.apply(sa.select(table), cursor, 2).compile(compile_kwargs={"literal_binds": True}))
    assert "(t.due, t.id) < ('2026-01-02', 'x2')" in query
    assert "ORDER BY t.due DESC, t.id DESC" in query
