"""Loading one delimited text file into a staging table, keeping every rejected line.

DuckDB's ``read_csv`` does the bulk work with an explicit dialect and explicit columns (its
sniffer would read a ragged file as one column), every value as text, and ``store_rejects``
so that each malformed record lands in ``_workbench.rejects`` with its line and raw text.
The records are counted separately (:mod:`workbench.sources.record_count`) so that
acquisition can check that nothing was dropped on the way.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from workbench.errors import SourceError
from workbench.snapshot.staging import META, Staging, quote_ident, sql_string
from workbench.sources import encoding as enc
from workbench.sources.dialect import Dialect
from workbench.sources.record_count import count_records, line_numbers

_REJECT_ERRORS = "_workbench_reject_errors"
_REJECT_SCANS = "_workbench_reject_scans"
MAX_LINE_SIZE = 1 << 21


@dataclass(frozen=True)
class Loaded:
    table: str
    rows: int
    rejected: int
    records: int
    blank_lines: int


def load_file(
    staging: Staging,
    table: str,
    path: Path,
    display: str,
    dialect: Dialect,
    *,
    max_line_size: int = MAX_LINE_SIZE,
) -> Loaded:
    """Load ``path`` into ``main.<table>``; ``display`` names the file in rejects and errors."""
    with (
        _utf8(path, dialect, display) as readable,
        ThreadPoolExecutor(1, thread_name_prefix="workbench-count") as pool,
    ):
        # The count reads the file while DuckDB loads it: both release the GIL.
        counting = pool.submit(count_records, readable, dialect, 3 if _has_bom(readable) else 0)
        _read_csv(staging.con, table, readable, display, dialect, max_line_size)
        counted = counting.result()
        rejected = _store_rejects(staging, table, readable, display)
    records = counted.records - (1 if dialect.header and counted.records else 0)
    staging.record_input(table, display, records)
    if counted.blank_lines:
        staging.note_skipped(
            display, None, "blank lines", table,
            f"{counted.blank_lines} empty lines outside quoted fields are not records",
        )  # fmt: skip
    rows = staging.con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
    if rows + rejected != records:
        raise SourceError(_unbalanced(staging, table, display, rows, rejected, records))
    return Loaded(table, rows, rejected, records, counted.blank_lines)


def _unbalanced(
    staging: Staging, table: str, display: str, rows: int, rejected: int, records: int
) -> str:
    # DuckDB and csv split a file into records differently only where its quoting or line
    # endings are broken; the first rejected line is usually where that starts.
    first = staging.con.execute(
        f"SELECT line, reason FROM {META}.rejects WHERE table_name = ? ORDER BY line LIMIT 1",
        [table],
    ).fetchone()
    where = f"; first rejected line {first[0]}: {first[1]}" if first else ""
    return (
        f"{display}: DuckDB read {rows} rows + {rejected} rejected but the file holds "
        f"{records} records: malformed quoting or mixed line endings{where} "
        '(set quote = "" for this source if quotes are not used for quoting)'
    )


@contextmanager
def _utf8(path: Path, dialect: Dialect, display: str) -> Iterator[Path]:
    """``path`` itself when DuckDB can read it, else a UTF-8 spool that is removed afterwards."""
    if not enc.needs_transcoding(dialect.encoding):
        yield path
        return
    spool_dir = Path(tempfile.mkdtemp(prefix="workbench-spool-"))
    try:
        spool = spool_dir / (path.stem + ".utf8.csv")
        enc.transcode(path, dialect.encoding, spool, display)
        yield spool
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)


def _has_bom(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(3) == b"\xef\xbb\xbf"


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    display: str,
    dialect: Dialect,
    max_line_size: int,
) -> None:
    columns = ", ".join(f"{sql_string(c)}: 'VARCHAR'" for c in dialect.columns)
    options = {
        "columns": "{" + columns + "}",
        "auto_detect": "false",
        "header": str(dialect.header).lower(),
        "skip": str(dialect.skip),
        "delim": sql_string(dialect.delimiter),
        "quote": sql_string(dialect.quote),
        "escape": sql_string(dialect.escape or dialect.quote),
        "all_varchar": "true",
        "allow_quoted_nulls": "false",  # "" stays an empty string; only an empty field is NULL
        "strict_mode": "true",  # lenient mode silently truncates rows with too many fields
        "null_padding": "false",
        "max_line_size": str(max_line_size),
        "store_rejects": "true",
        "rejects_table": sql_string(_REJECT_ERRORS),
        "rejects_scan": sql_string(_REJECT_SCANS),
    }
    args = ", ".join(f"{k} = {v}" for k, v in options.items())
    # With a single column an empty line reads as one NULL field; csv does not count it.
    where = (
        f" WHERE {quote_ident(dialect.columns[0])} IS NOT NULL" if len(dialect.columns) == 1 else ""
    )
    _drop_reject_tables(con)
    try:
        con.execute(
            f"CREATE TABLE {quote_ident(table)} AS "
            f"SELECT * FROM read_csv({sql_string(str(path))}, {args}){where}"
        )
    except duckdb.Error as e:
        cause = _first_line(e)
        if "state machine reached an invalid state" in cause:
            cause += " (line breaks of more than one kind outside quotes, or a stray quote)"
        raise SourceError(f"{display}: cannot be read as delimited text: {cause}") from None


def _store_rejects(staging: Staging, table: str, path: Path, display: str) -> int:
    """Copy DuckDB's rejects into ``_workbench.rejects``: one row per rejected record.

    DuckDB reports one row per error and a record can have several; its ``line`` counts
    records, not lines of the file, and its ``line_byte_position`` is one past the start of
    the text it shows, which may begin with the blank lines before the record. The line of
    the file is recomputed from the record's first byte.
    """
    con = staging.con
    found = con.execute(
        f"""
        SELECT min(line_byte_position) - 1 AS shown_at,
               string_agg(DISTINCT error_type || ': ' || error_message, '; '
                          ORDER BY error_type || ': ' || error_message) AS reason,
               any_value(csv_line) AS raw
        FROM {_REJECT_ERRORS}
        GROUP BY scan_id, file_id, line
        ORDER BY shown_at
        """
    ).fetchall()
    _drop_reject_tables(con)
    if not found:
        return 0
    starts, reasons, raws = [], [], []
    for shown_at, reason, raw in found:
        raw = raw or ""
        text = raw.lstrip("\r\n")
        starts.append(max(shown_at or 0, 0) + len(raw) - len(text))
        reasons.append(reason)
        raws.append(text.rstrip("\r\n"))
    lines = line_numbers(path, starts)
    batch = pa.table(
        {
            "table_name": pa.array([table] * len(lines), pa.string()),
            "file": pa.array([display] * len(lines), pa.string()),
            "line": pa.array(lines, pa.int64()),
            "reason": pa.array(reasons, pa.string()),
            "raw": pa.array(raws, pa.string()),
        }
    )
    # Set-based: a wrong delimiter can reject millions of lines.
    con.register("_workbench_new_rejects", batch)
    try:
        con.execute(f"INSERT INTO {META}.rejects SELECT * FROM _workbench_new_rejects")
    finally:
        con.unregister("_workbench_new_rejects")
    return len(lines)


def _drop_reject_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {_REJECT_ERRORS}; DROP TABLE IF EXISTS {_REJECT_SCANS}")


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
