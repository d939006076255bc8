"""Rows on their way into DuckDB: CSV spool files, checked while the dump is still being read.

Transcoded rows are appended to spool files, one series per table and column list, cut
into chunks. As soon as a chunk is complete a background thread has DuckDB count, for every
column, the values in it that do *not* fit the declared type; this runs on the second core
(with one DuckDB thread, so that Python keeps its own) while the dump is read on. When the
dump is read, each table is created in one statement from all its chunks, every column cast
to its declared type where every value fits, else kept as text. (Inserting chunk by chunk
as they come was measured: a third more CPU and a larger database file than one
CREATE TABLE AS over all the chunks.)

DuckDB itself refuses a record that is not valid UTF-8; such records are returned with the
spool position they came from, so that they can be reported with their own line.
"""

from __future__ import annotations

import bisect
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import duckdb

from workbench.errors import SourceError
from workbench.snapshot.staging import Staging, quote_ident, sql_list
from workbench.sources.mysqldump_types import ColumnType

CHUNK_BYTES = 64 << 20
_CSV = (
    "header = false, delim = ',', quote = '''', escape = '''', new_line = '\\n', "
    "nullstr = 'NULL', allow_quoted_nulls = false, auto_detect = false, strict_mode = true"
)
_MIN_LINE = 1 << 21  # DuckDB's default max_line_size
_REJECTS = "_mysqldump_rejects"
_SCANS = "_mysqldump_scans"

Rejected = tuple[str, int, str]  # (spool file, byte position, DuckDB's error)


@dataclass(frozen=True)
class Origin:
    """Where spooled rows came from in the dump (offset None: from the exact parser)."""

    file: str
    path: Path
    line: int
    codec: str
    offset: int | None = None
    length: int = 0


@dataclass
class Chunk:
    path: Path
    records: int = 0
    longest: int = 0
    starts: list[int] = field(default_factory=list)  # spool offset of each piece
    origins: list[Origin] = field(default_factory=list)
    checked: Future | None = None

    def origin_at(self, position: int) -> Origin:
        return self.origins[max(bisect.bisect_right(self.starts, position) - 1, 0)]


@dataclass
class Target:
    """A staging table to be: its columns, and the values found not to fit their type."""

    name: str
    columns: list[tuple[str, str]]
    types: list[ColumnType]
    misfits: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)

    def typed(self) -> list[ColumnType | None]:
        """Each column's type if every value fits it, else None (the column stays text)."""
        return [
            t if t.target != "VARCHAR" and not self.misfits.get(name) else None
            for (name, _), t in zip(self.columns, self.types, strict=True)
        ]


@dataclass
class Group:
    """The spooled rows of one table inserted with one column list."""

    target: Target
    columns: list[str]
    types: list[ColumnType]
    chunks: list[Chunk] = field(default_factory=list)
    out: IO[bytes] | None = None
    written: int = 0


class Spool:
    def __init__(self, staging: Staging, directory: Path):
        self.directory = directory
        self.groups: dict[tuple[str, tuple[str, ...]], Group] = {}
        self._files = 0
        self._con = staging.con.cursor()
        self._con.execute("SET enable_progress_bar = false")  # it would take the GIL
        self._threads = self._con.execute("SELECT current_setting('threads')").fetchone()[0]
        self._con.execute("SET threads = 1")  # while Python reads on the other core
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mysqldump-check")

    def group(self, target: Target, columns: list[str], types: list[ColumnType]) -> Group:
        key = (target.name, tuple(columns))
        if key not in self.groups:
            self.groups[key] = Group(target, columns, types)
        return self.groups[key]

    def write(self, group: Group, data: bytes, records: int, longest: int, origin: Origin) -> None:
        chunk = self._chunk(group)
        chunk.starts.append(group.written)
        chunk.origins.append(origin)
        group.out.write(data)
        group.written += len(data)
        chunk.records += records
        chunk.longest = max(chunk.longest, longest)
        if group.written >= CHUNK_BYTES:
            self._close(group)

    def finish(self) -> None:
        """Check what is still spooled, and wait for every check."""
        for group in self.groups.values():
            self._close(group)
        for group in self.groups.values():
            for chunk in group.chunks:
                chunk.checked.result()
        self._con.execute(f"SET threads = {self._threads}")

    def chunks(self, target: Target) -> list[tuple[Group, Chunk]]:
        return [(g, c) for g in self.groups.values() if g.target is target for c in g.chunks]

    def close(self) -> None:
        for group in self.groups.values():
            if group.out is not None:
                group.out.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._con.execute(f"SET threads = {self._threads}")
        self._con.close()

    def _chunk(self, group: Group) -> Chunk:
        if group.out is None:
            self._files += 1
            path = self.directory / f"chunk-{self._files:06d}.csv"
            group.chunks.append(Chunk(path))
            group.out = path.open("wb")
            group.written = 0
        return group.chunks[-1]

    def _close(self, group: Group) -> None:
        if group.out is None:
            return
        group.out.close()
        group.out = None
        chunk = group.chunks[-1]
        chunk.checked = self._pool.submit(_check, self._con, group, chunk)


def build(
    con: duckdb.DuckDBPyConnection, target: Target, parts: list[tuple[Group, list[Path], int]]
) -> None:
    """Create a table from all its spool files (or empty), each column typed where all its
    values fit, and keep the records DuckDB rejected in ``target.rejected``."""
    table = f"main.{quote_ident(target.name)}"
    if not parts:
        defs = ", ".join(
            f"{quote_ident(name)} {t.target if t else 'VARCHAR'}"
            for (name, _), t in zip(target.columns, target.typed(), strict=True)
        )
        con.execute(f"CREATE TABLE {table} ({defs})")
        return
    written = sum(chunk.records for group, _, _ in parts for chunk in group.chunks)
    _fill(con, target, parts, keep_rejects=False)
    if con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] != written:
        # Rare: DuckDB refused a record. Build again, this time keeping which (keeping
        # them always costs a tenth more).
        con.execute(f"DROP TABLE {table}")
        _fill(con, target, parts, keep_rejects=True)


def _fill(
    con: duckdb.DuckDBPyConnection,
    target: Target,
    parts: list[tuple[Group, list[Path], int]],
    keep_rejects: bool,
) -> None:
    table, typed = f"main.{quote_ident(target.name)}", target.typed()
    names = ", ".join(quote_ident(n) for n, _ in target.columns)
    target.rejected = []
    for i, (group, paths, longest) in enumerate(parts):
        _drop_rejects(con)
        select = _select(group, paths, longest, target.columns, typed, keep_rejects)
        if i == 0:
            con.execute(f"CREATE TABLE {table} AS {select}")
        else:  # the same table inserted with another column list
            con.execute(f"INSERT INTO {table} ({names}) {select}")
        target.rejected += _rejects(con) if keep_rejects else []


def read_csv(paths: list[Path], width: int, longest: int, options: str = "") -> str:
    """DuckDB's reader for spool files: every field text, named c0, c1, ..."""
    files = sql_list(str(p) for p in paths)
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    size = max(_MIN_LINE, longest + 1024)
    return (
        f"read_csv([{files}], columns = {{{columns}}}, {_CSV}, "
        f"max_line_size = {size}, buffer_size = {max(size * 4, 1 << 24)}{options})"
    )


def _check(con: duckdb.DuckDBPyConnection, group: Group, chunk: Chunk) -> None:
    """Count, per column, the values of one chunk that do not fit the declared type."""
    counts = ["0"]
    for i, t in enumerate(group.types):
        misfit = t.misfit(f"c{i}")
        counts.append(f"count(*) FILTER (WHERE c{i} IS NOT NULL AND {misfit})" if misfit else "0")
    if len(counts) == counts.count("0"):
        return
    source = read_csv([chunk.path], len(group.types), chunk.longest, ", ignore_errors = true")
    try:
        found = con.execute(f"SELECT {', '.join(counts)} FROM {source}").fetchone()[1:]
    except duckdb.Error as e:
        raise SourceError(f"table {group.target.name}: rows cannot be read back: {e}") from None
    misfits = group.target.misfits
    for name, count in zip(group.columns, found, strict=True):
        misfits[name] = misfits.get(name, 0) + count


def _select(
    group: Group,
    paths: list[Path],
    longest: int,
    columns: list[tuple[str, str]],
    typed: list[ColumnType | None],
    keep_rejects: bool,
) -> str:
    where = {name: i for i, name in enumerate(group.columns)}
    exprs = []
    for (name, _), t in zip(columns, typed, strict=True):
        if name not in where:
            expr = f"NULL::{t.target if t else 'VARCHAR'}"
        else:
            col = f"c{where[name]}"
            expr = t.cast(col) if t else col
        exprs.append(f"{expr} AS {quote_ident(name)}")
    options = (
        f", store_rejects = true, rejects_table = '{_REJECTS}', rejects_scan = '{_SCANS}'"
        if keep_rejects
        else ", ignore_errors = true"
    )
    return f"SELECT {', '.join(exprs)} FROM {read_csv(paths, len(group.columns), longest, options)}"


def _drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS temp.{_REJECTS}")
    con.execute(f"DROP TABLE IF EXISTS temp.{_SCANS}")


def _rejects(con: duckdb.DuckDBPyConnection) -> list[Rejected]:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [_REJECTS]
    ).fetchone()[0]
    if not exists:
        return []
    found = con.execute(
        f"SELECT s.file_path, r.line_byte_position, r.error_type || ': ' || r.error_message "
        f"FROM temp.{_REJECTS} r JOIN temp.{_SCANS} s USING (scan_id, file_id) ORDER BY 1, 2"
    ).fetchall()
    _drop_rejects(con)
    return found
