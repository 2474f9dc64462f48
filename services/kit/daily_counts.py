"""Rows of a table counted per UTC day and key columns in a table of their own, kept by triggers
in the transaction of every insert, update and delete, so a KPI over a long window sums a few rows
per day instead of grouping every row (the window's partial days at its edges are still counted
from the rows themselves).

The SQL for a migration: the counts table is the component's model (its columns `day`, the keys
and `count`); `install` backfills it from the rows already there and creates the triggers, once per
statement on PostgreSQL (transition tables) and once per row on SQLite.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DailyCounts:
    counts: str  # the counts table
    source: str  # the table whose rows are counted
    moment: str  # its timestamp column that places a row on a day
    keys: tuple[str, ...]  # its columns the counts are kept per

    def _day(self, row: str, dialect: str) -> str:
        if dialect == "postgresql":
            return f"(({row}.{self.moment}) AT TIME ZONE 'UTC')::date"
        return f"date({row}.{self.moment})"

    def _add(self, rows: list[tuple[int, str]], dialect: str) -> str:
        """Add `sign` for each row of each (sign, rows) to its day and keys."""
        keys = ", ".join(self.keys)
        selects = " UNION ALL ".join(
            f"SELECT {sign} AS sign, {self._day(name, dialect)} AS day, "
            + ", ".join(f"{name}.{k} AS {k}" for k in self.keys)
            + (f" FROM {name}" if dialect == "postgresql" else "")
            for sign, name in rows
        )
        # In key order, so writers meeting on the same counts rows queue rather than deadlock;
        # groups that net to zero (an update that moved nothing counted) write nothing.
        return f"""INSERT INTO {self.counts} (day, {keys}, count)
            SELECT v.day, {", ".join(f"v.{k}" for k in self.keys)}, sum(v.sign) FROM ({selects}) v
            WHERE true GROUP BY v.day, {keys} HAVING sum(v.sign) <> 0 ORDER BY v.day, {keys}
            ON CONFLICT (day, {keys}) DO UPDATE SET count = {self.counts}.count + excluded.count"""

    def install(self, dialect: str) -> list[str]:
        """Statements that backfill the counts and create the triggers."""
        keys = ", ".join(self.keys)
        day = self._day(self.source, dialect)
        statements = [
            f"""INSERT INTO {self.counts} (day, {keys}, count)
            SELECT {day}, {keys}, count(*) FROM {self.source} GROUP BY {day}, {keys}"""
        ]
        changes = {
            "insert": [(1, "new_rows")],
            "update": [(-1, "old_rows"), (1, "new_rows")],
            "delete": [(-1, "old_rows")],
        }
        for event, rows in changes.items():
            name = f"{self.counts}_{event}"
            if dialect == "postgresql":
                transition = " ".join(f"{n.split('_')[0].upper()} TABLE AS {n}" for _, n in rows)
                statements.append(
                    f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN {self._add(rows, dialect)}; RETURN NULL; END $$"""
                )
                statements.append(
                    f"""CREATE TRIGGER {name} AFTER {event.upper()} ON {self.source}
                    REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"""
                )
            else:
                per_row = [(sign, "NEW" if n == "new_rows" else "OLD") for sign, n in rows]
                statements.append(
                    f"""CREATE TRIGGER {name} AFTER {event.upper()} ON {self.source} FOR EACH ROW
                    BEGIN {self._add(per_row, dialect)}; END"""
                )
        return statements

    def uninstall(self, dialect: str) -> list[str]:
        statements = []
        for event in ("insert", "update", "delete"):
            name = f"{self.counts}_{event}"
            if dialect == "postgresql":
                statements += [f"DROP TRIGGER IF EXISTS {name} ON {self.source}", f"DROP FUNCTION IF EXISTS {name}()"]
            else:
                statements.append(f"DROP TRIGGER IF EXISTS {name}")
        return statements
