"""The staging database a source loads into while a snapshot is being taken.

Legacy tables live in the ``main`` schema, under their source names, queryable as they were.
The workbench's own bookkeeping lives in the ``_workbench`` schema:

- ``rejects``: every input record that could not be loaded, with file, line, reason and raw text;
- ``columns``: each column's declared source type, where the source declares one;
- ``inputs``: how many data records the source read per table and file, so that
  accepted + rejected can be checked against it;
- ``skipped``: statements or objects the source deliberately did not load (triggers,
  procedures), so the skip is reported rather than silent.

Row order inside a staged table is not preserved (DuckDB then loads in parallel); nothing
downstream may depend on it. Rejects keep their file and line numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

META = "_workbench"

_META_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {META};
CREATE TABLE IF NOT EXISTS {META}.rejects (
    table_name VARCHAR, file VARCHAR, line BIGINT, reason VARCHAR, raw VARCHAR);
CREATE TABLE IF NOT EXISTS {META}.columns (
    table_name VARCHAR, ordinal INTEGER, column_name VARCHAR, declared_type VARCHAR);
CREATE TABLE IF NOT EXISTS {META}.inputs (
    table_name VARCHAR, file VARCHAR, records BIGINT);
CREATE TABLE IF NOT EXISTS {META}.skipped (
    file VARCHAR, line BIGINT, kind VARCHAR, name VARCHAR, detail VARCHAR);
"""


def quote_ident(name: str) -> str:
    """A DuckDB identifier that keeps a legacy name exactly as it was."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """A DuckDB string literal of ``text``."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(items: Iterable[str]) -> str:
    """Comma-separated string literals, for ``IN (...)`` and lists of files."""
    return ", ".join(sql_string(i) for i in items)


class Staging:
    """A DuckDB connection plus the bookkeeping a source must keep while loading."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None = None):
        self.con = con
        self.path = path
        con.execute("SET preserve_insertion_order = false")
        con.execute(_META_DDL)

    @classmethod
    def create(cls, path: Path) -> Staging:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(duckdb.connect(str(path)), path)

    @classmethod
    @contextmanager
    def scratch(cls) -> Iterator[Staging]:
        """An in-memory staging database, for probes."""
        staging = cls(duckdb.connect(":memory:"))
        try:
            yield staging
        finally:
            staging.close()

    def close(self) -> None:
        self.con.close()

    # -- bookkeeping a source calls ----------------------------------------------------------

    def add_rejects(
        self, table: str, file: str, rejects: Iterable[tuple[int | None, str, str]]
    ) -> int:
        """Record rejected records as (line, reason, raw text). Returns how many."""
        rows = [(table, file, line, reason, raw) for line, reason, raw in rejects]
        if rows:
            self.con.executemany(f"INSERT INTO {META}.rejects VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    def declare_columns(self, table: str, columns: Iterable[tuple[str, str | None]]) -> None:
        """Record each column's type as the source declared it (``None`` if it declares none)."""
        rows = [(table, i, name, decl) for i, (name, decl) in enumerate(columns, start=1)]
        self.con.execute(f"DELETE FROM {META}.columns WHERE table_name = ?", [table])
        if rows:
            self.con.executemany(f"INSERT INTO {META}.columns VALUES (?, ?, ?, ?)", rows)

    def record_input(self, table: str, file: str, records: int) -> None:
        """How many data records the source read for ``table`` from ``file``."""
        self.con.execute(f"INSERT INTO {META}.inputs VALUES (?, ?, ?)", [table, file, records])

    def note_skipped(self, file: str, line: int | None, kind: str, name: str, detail: str) -> None:
        self.con.execute(
            f"INSERT INTO {META}.skipped VALUES (?, ?, ?, ?, ?)", [file, line, kind, name, detail]
        )

    # -- what acquisition reads back -----------------------------------------------------------

    def tables(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def table_counts(self) -> list[tuple[str, int, int]]:
        """(table, rows, columns) for every legacy table, counted exactly."""
        out = []
        for table in self.tables():
            rows = self.con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
            cols = self.con.execute(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?",
                [table],
            ).fetchone()[0]
            out.append((table, rows, cols))
        return out
