"""Reading a dump into staging: what each statement means, where its rows go.

A dump is read once, statement by statement. ``CREATE TABLE`` declares a table; the rows of
``INSERT``/``REPLACE ... VALUES`` go through the fast path when they are in mysqldump's
canonical form and through the exact parser otherwise; session statements (SET, LOCK,
USE ...) are passed over; triggers, routines, views, events and anything else are skipped
and reported. When every file is read, each table is created from its spooled rows.
"""

from __future__ import annotations

import codecs
import gzip
import io
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import duckdb

from workbench.errors import SourceError
from workbench.progress import Progress
from workbench.snapshot.staging import Staging, quote_ident
from workbench.sources import mysqldump_statements as sql
from workbench.sources.mysqldump_charsets import UTF8, codec_for, decode, named_by
from workbench.sources.mysqldump_reader import DumpReader, Statement
from workbench.sources.mysqldump_rows import read_rows
from workbench.sources.mysqldump_spool import Chunk, Group, Origin, Rejected, Spool, Target, build
from workbench.sources.mysqldump_tuples import parse_rows
from workbench.sources.mysqldump_types import ColumnType, column_type
from workbench.sources.mysqldump_values import Layout

_SNIFF = 1 << 16
_BATCH = 1 << 20  # bytes of exactly parsed records written at a time
_RECOGNISED = {"table", "drop", "truncate", "ignore"}


@dataclass
class Table:
    target: Target
    file: str  # where it is created
    records: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def columns(self) -> list[tuple[str, str]]:
        return self.target.columns

    @property
    def has_rows(self) -> bool:
        return any(self.records.values())


@contextmanager
def open_dump(path: Path) -> BinaryIO:
    """A dump file, decompressed on the fly if it is gzipped."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if gzipped:
            with gzip.open(raw) as f:
                yield f
        else:
            yield raw


class DumpLoad:
    def __init__(self, staging: Staging, spool: Spool, codec: str | None = None):
        self.staging = staging
        self.spool = spool
        self.fixed_codec = codec  # configured: it wins over what the dump says
        self.codec = codec or UTF8
        self.tables: dict[str, Table] = {}  # by lower-case name: DuckDB ignores case
        self._rejects: dict[tuple[str, str], list[tuple[int | None, str, str]]] = {}
        self._views: set[tuple[str, str]] = set()

    # -- reading one file -------------------------------------------------------------------

    def read(self, path: Path, file: str, progress: Progress) -> None:
        try:
            with open_dump(path) as f:
                total = None if isinstance(f, gzip.GzipFile) else path.stat().st_size
                with progress.task(f"read {file}", total=total) as task:
                    reader = DumpReader(f, file, task.advance)
                    self._sniff(reader)
                    recognised = self._statements(reader, path)
        except OSError as e:
            raise SourceError(f"{file}: cannot be read: {e.strerror or e}") from None
        if not recognised:
            raise SourceError(f"{file}: not a mysqldump file: it holds no SQL statements")

    def _sniff(self, reader: DumpReader) -> None:
        reader.fill(_SNIFF)
        head = reader.buf[reader.pos : reader.pos + _SNIFF]
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise SourceError(
                f"{reader.display}: the dump is UTF-16 text (as PowerShell's '>' writes it); "
                "dump again with mysqldump --result-file, or convert the file to UTF-8"
            )
        if b"\0" in head:
            raise SourceError(f"{reader.display}: not a mysqldump file: it is binary, not text")
        if head.startswith(codecs.BOM_UTF8):
            reader.advance(len(codecs.BOM_UTF8))

    def _statements(self, reader: DumpReader, path: Path) -> int:
        recognised = 0
        while reader.skip_space():
            if reader.starts_insert():
                recognised += self._insert(reader, path)
            else:
                recognised += self._statement(reader.statement(), reader.display)
        return recognised

    def _statement(self, st: Statement, file: str) -> int:
        text = sql.clean(decode(st.text, self.codec, "replace"))
        what = sql.classify(text)
        if what.kind == "set" and (charset := named_by(text)):
            self._set_names(charset, st, file)
        elif what.action == "table":
            self._create(text, st, file)
        elif what.action in ("drop", "truncate"):
            for name in what.name.split(","):
                self._drop(name, what.action, st, file)
        elif what.action == "skip":
            self._note(file, st.line, what.kind, what.name, _summary(text))
        if not st.terminated and what.action != "ignore":
            self._note(file, st.line, "statement", what.name, "the file ends inside it")
        return int(what.action in _RECOGNISED or what.kind in sql.OBJECT_KINDS)

    def _create(self, text: str, st: Statement, file: str) -> None:
        if not st.terminated:
            raise SourceError(f"{file}: line {st.line}: the file ends inside CREATE TABLE")
        table = sql.parse_create_table(text)
        if table is None or not table.columns:
            self._note(file, st.line, "table", "", "no column list: " + _summary(text))
            return
        key = table.name.lower()
        if key in self.tables:
            first = self.tables[key]
            raise SourceError(
                f"{file}: line {st.line}: table `{table.name}` is created again (first in "
                f"{first.file}); DuckDB cannot stage two tables of that name"
            )
        names = [c.lower() for c, _ in table.columns]
        if len(set(names)) != len(names):
            raise SourceError(f"{file}: line {st.line}: table `{table.name}` repeats a column")
        types = [column_type(declared) for _, declared in table.columns]
        self.tables[key] = Table(Target(table.name, table.columns, types), file)

    def _set_names(self, charset: str, st: Statement, file: str) -> None:
        """``SET NAMES x``: the text after it is written in character set x."""
        if self.fixed_codec:
            return
        codec = codec_for(charset)
        if codec is None:
            raise SourceError(
                f"{file}: line {st.line}: the dump is written in character set {charset}, "
                "which is not read (only UTF-8 and single-byte character sets are)"
            )
        self.codec = codec

    def _drop(self, name: str, action: str, st: Statement, file: str) -> None:
        table = self.tables.get(name.lower())
        if table is None:
            return
        if not table.has_rows and action == "drop":
            del self.tables[name.lower()]  # e.g. mysqldump's placeholder table for a view
        elif table.has_rows:
            self._note(file, st.line, action, table.name, f"not applied: rows of {name} are kept")

    # -- rows --------------------------------------------------------------------------------

    def _insert(self, reader: DumpReader, path: Path) -> int:
        file, line = reader.display, reader.line
        header = reader.insert_header()
        if header is None:
            st = reader.statement()
            self._note(file, st.line, "insert", "", "not a VALUES list: " + _summary(st.text))
            return 1
        text, length = header
        parsed = sql.parse_insert_header(sql.clean(decode(text, self.codec, "replace")))
        if parsed is None:
            shown = _summary(text, 80)
            raise SourceError(f"{file}: line {line}: cannot tell the INSERT's table: {shown}")
        table = self._table_for(parsed[0], file, line)
        group, layout = self._group(table, parsed[1], file, line)
        header = reader.buf[reader.pos : reader.pos + length]
        reader.advance(length)
        while (rows := read_rows(reader, layout, header)) is not None:
            origin = Origin(file, path, rows.line, layout.codec, rows.offset, rows.length)
            self.spool.write(group, rows.csv, rows.tuples, rows.longest, origin)
            table.records[file] += rows.tuples
            if rows.complete:
                return 1
        self._exact(reader, table, group, layout, path)
        return 1

    def _exact(
        self, reader: DumpReader, table: Table, group: Group, layout: Layout, path: Path
    ) -> None:
        file, batch, size = reader.display, [], 0
        for parsed in parse_rows(reader, layout):
            table.records[file] += 1
            if parsed.record is None:
                self._reject(table.name, file, parsed.line, parsed.reason, parsed.raw)
                continue
            if not batch:
                line = parsed.line
            batch.append(parsed.record)
            size += len(parsed.record)
            if size >= _BATCH:
                self._write_batch(group, batch, Origin(file, path, line, layout.codec))
                batch, size = [], 0
        if batch:
            self._write_batch(group, batch, Origin(file, path, line, layout.codec))

    def _write_batch(self, group: Group, batch: list[bytes], origin: Origin) -> None:
        longest = max(len(r) for r in batch)
        self.spool.write(group, b"".join(batch), len(batch), longest, origin)

    def _table_for(self, name: str, file: str, line: int) -> Table:
        table = self.tables.get(name.lower())
        if table is None:
            raise SourceError(
                f"{file}: line {line}: INSERT INTO `{name}` before any CREATE TABLE `{name}`; "
                "put the file that defines the tables first in 'path'"
            )
        return table

    def _group(
        self, table: Table, columns: list[str] | None, file: str, line: int
    ) -> tuple[Group, Layout]:
        known = {name.lower(): i for i, (name, _) in enumerate(table.columns)}
        if columns is None:
            picked = list(range(len(table.columns)))
        else:
            missing = [c for c in columns if c.lower() not in known]
            if missing or len({c.lower() for c in columns}) != len(columns):
                raise SourceError(
                    f"{file}: line {line}: INSERT INTO `{table.name}` lists columns "
                    f"{', '.join(columns)}, which do not match its CREATE TABLE"
                )
            picked = [known[c.lower()] for c in columns]
        names = [table.columns[i][0] for i in picked]
        types = [table.target.types[i] for i in picked]
        group = self.spool.group(table.target, names, types)
        return group, layout_of(types, self.codec)

    # -- bookkeeping -------------------------------------------------------------------------

    def _note(self, file: str, line: int | None, kind: str, name: str, detail: str) -> None:
        if kind == "view":  # mysqldump writes a view twice: a placeholder, then the view
            if (file, name) in self._views:
                return
            self._views.add((file, name))
        self.staging.note_skipped(file, line, kind, name, detail)

    def _reject(self, table: str, file: str, line: int | None, reason: str, raw: str) -> None:
        pending = self._rejects.setdefault((table, file), [])
        pending.append((line, reason, raw))
        if len(pending) >= 10_000:
            self._flush_rejects()

    def _flush_rejects(self) -> None:
        for (table, file), rejects in self._rejects.items():
            self.staging.add_rejects(table, file, rejects)
        self._rejects.clear()

    # -- after the last file -----------------------------------------------------------------

    def finish(self, progress: Progress) -> None:
        with progress.task("check rows", total=None):
            self.spool.finish()
        with progress.task("stage tables", total=len(self.tables)) as task:
            for table in self.tables.values():
                self._stage(table)
                task.advance()
        self._flush_rejects()

    def _stage(self, table: Table) -> None:
        target, chunks = table.target, self.spool.chunks(table.target)
        parts: dict[int, tuple[Group, list[Path], int]] = {}
        for group, chunk in chunks:
            _, paths, longest = parts.get(id(group), (group, [], 0))
            parts[id(group)] = (group, [*paths, chunk.path], max(longest, chunk.longest))
        try:
            build(self.staging.con, target, list(parts.values()))
        except duckdb.Error as e:  # named with its table, as one line, never a traceback
            raise SourceError(f"table {table.name}: cannot be staged: {_summary(str(e))}") from None
        if target.rejected:
            self._map_duckdb_rejects(table, chunks)
        written = sum(chunk.records for _, chunk in chunks)
        staged = self.staging.con.execute(
            f"SELECT count(*) FROM main.{quote_ident(table.name)}"
        ).fetchone()[0]
        if staged + len(target.rejected) != written:  # DuckDB must read back what was written
            raise SourceError(
                f"table {table.name}: {written} rows written for staging but {staged} staged "
                f"and {len(target.rejected)} rejected"
            )
        self.staging.declare_columns(table.name, table.columns)
        for file, records in table.records.items():
            self.staging.record_input(table.name, file, records)
        if not table.records:
            self.staging.record_input(table.name, table.file, 0)

    def _map_duckdb_rejects(self, table: Table, chunks: list[tuple[Group, Chunk]]) -> None:
        """Report the rows DuckDB refused (invalid UTF-8) with their own line in the dump,
        found by reading again the piece of the dump they came from."""
        by_path = {str(chunk.path): (group, chunk) for group, chunk in chunks}
        by_origin: dict[tuple[Origin, int], list[Rejected]] = defaultdict(list)
        groups = {}
        for rejected in table.target.rejected:
            group, chunk = by_path[rejected[0]]
            groups[id(group)] = group
            by_origin[(chunk.origin_at(rejected[1]), id(group))].append(rejected)
        for (origin, group_id), errors in by_origin.items():
            layout = layout_of(groups[group_id].types, origin.codec)
            found = [] if origin.offset is None else _reparse(origin, layout)
            if len(found) != len(errors):
                raise SourceError(
                    f"{origin.file}: line {origin.line}: DuckDB rejected {len(errors)} rows "
                    f"of {table.name} that the dump parser reads as valid: {errors[0][2]}"
                )
            for parsed in found:
                self._reject(table.name, origin.file, parsed.line, parsed.reason, parsed.raw)


def layout_of(types: list[ColumnType], codec: str) -> Layout:
    binary = tuple(i for i, t in enumerate(types) if t.binary)
    return Layout(len(types), binary, tuple(i for i, t in enumerate(types) if t.bit), codec)


def _reparse(origin: Origin, layout: Layout) -> list:
    """The rejects among rows the fast path passed to DuckDB, found by reading them again
    with the exact parser (they may span several statements with the same header)."""
    with open_dump(origin.path) as f:
        f.seek(origin.offset)
        data = f.read(origin.length)
    reader = DumpReader(io.BytesIO(data), origin.file)
    reader.line = origin.line
    found = [p for p in parse_rows(reader, layout) if p.record is None]
    while reader.skip_space() and (header := reader.insert_header()) is not None:
        reader.advance(header[1])
        found += [p for p in parse_rows(reader, layout) if p.record is None]
    return found


def _summary(text: str | bytes, limit: int = 120) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")  # for a message only
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "…"
