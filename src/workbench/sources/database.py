"""A live database, reached with a SQLAlchemy URL: MariaDB/MySQL, PostgreSQL, SQLite.

The password is sealed (``password = "env:NAME"``) and put into the URL only at the moment of
connecting; a URL that embeds a password is refused. Every count and every row of one
acquisition is read inside a single snapshot transaction where the dialect has one, so the
counts match what was read. Rows stream in Arrow batches of bounded size into DuckDB.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from workbench.errors import ConfigError, SourceError, SourceUnreachable, WorkbenchError
from workbench.progress import SILENT, Progress
from workbench.secrets import SealedSecret
from workbench.snapshot.staging import Staging, quote_ident
from workbench.sources.base import Probe, Source, TableCount
from workbench.sources.database_dialects import Dialect, dialect_for
from workbench.sources.database_types import ColumnPlan, settle

BATCH_ROWS = 50_000
BATCH_BYTES = 64 << 20  # Arrow bytes per batch: wide rows (notes, scanned documents) get fewer
_FIRST_BATCH_ROWS = 1_000
_PASSWORD_KEYS = ("password", "passwd", "pwd")
_BATCH_VIEW = "_workbench_batch"
_PICK_ONE = "; list only one of them in 'tables'"


@dataclass
class _Reading:
    """One open snapshot transaction on the source."""

    conn: sa.Connection
    inspector: sa.Inspector
    schema: str | None
    tables: list[str]
    skipped_views: list[str]

    def ref(self, table: str, columns: list[dict]) -> sa.TableClause:
        return sa.table(table, *(sa.column(c["name"]) for c in columns), schema=self.schema)

    def columns(self, table: str) -> list[dict]:
        return self.inspector.get_columns(table, schema=self.schema)


class DatabaseSource(Source):
    kind = "database"

    def __init__(self, name: str, config: dict[str, Any], root: Path):
        super().__init__(name, config, root)
        self.url = _parse_url(name, self.option("url", required=True))
        ref = self.option("password")
        self.secret = (
            SealedSecret.parse(str(ref), f"source {name!r}: password") if ref is not None else None
        )
        self.schema = self.option("schema")
        self.table_filter = _table_filter(name, self.option("tables"))
        self.batch_rows = self.option("batch_rows", BATCH_ROWS)
        if not isinstance(self.batch_rows, int) or self.batch_rows < 1:
            raise ConfigError(f"source {name!r}: 'batch_rows' must be a positive whole number")
        self.dialect: Dialect = dialect_for(self.url)

    @property
    def location(self) -> str:
        """The URL as configured: it never holds a password (one there is refused)."""
        return self.url.render_as_string(hide_password=True)

    def describe(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name, "kind": self.kind, "location": self.location}
        if self.schema:
            shown["schema"] = self.schema
        if self.table_filter:
            shown["tables"] = list(self.table_filter)
        return shown

    # -- probe and load ----------------------------------------------------------------------

    def probe(self) -> Probe:
        try:
            with self._reading() as reading:
                tables = [self._run(t, lambda t=t: self._count(reading, t)) for t in reading.tables]
        except WorkbenchError as e:
            reason = str(e).removeprefix(f"source {self.name!r}: ")
            return Probe(self.name, self.kind, False, reason)
        return Probe(self.name, self.kind, True, None, tables)

    def _count(self, reading: _Reading, table: str) -> TableCount:
        columns = reading.columns(table)
        count = sa.select(sa.func.count()).select_from(reading.ref(table, columns))
        return TableCount(table, reading.conn.execute(count).scalar_one(), len(columns))

    def load(self, staging: Staging, progress: Progress = SILENT) -> None:
        with self._reading() as reading:
            for view in reading.skipped_views:
                staging.note_skipped(
                    self.location, None, "view", view,
                    "a view is derived from tables; name it in 'tables' to load it",
                )  # fmt: skip
            for table in reading.tables:
                self._run(table, lambda t=table: self._load_table(reading, t, staging, progress))

    def _load_table(
        self, reading: _Reading, table: str, staging: Staging, progress: Progress
    ) -> None:
        columns = reading.columns(table)
        if not columns:  # PostgreSQL allows it; there is no value to stage
            staging.note_skipped(self.location, None, "table", table, "a table without columns")
            return
        _check_names(self.name, f"table {table!r}", [c["name"] for c in columns])
        declared = self.dialect.declared_types(reading.conn, reading.schema, table)
        ref = reading.ref(table, columns)
        census = self.dialect.census(ref, columns)
        counted, *found = reading.conn.execute(
            sa.select(sa.func.count(), *census).select_from(ref)
        ).one()
        plans = self.dialect.plan(columns, declared, tuple(found))
        _create(staging, table, plans)
        read = self._stream(reading, table, ref, plans, staging, progress, counted)
        settle(staging.con, table, plans)
        if read != counted:
            raise SourceError(
                f"source {self.name!r}: table {table!r} changed while it was read "
                f"(counted {counted:,} rows, read {read:,}); its engine gives no consistent "
                "snapshot, so acquire from a quiesced copy or a dump"
            )
        staging.declare_columns(table, [(p.name, p.declared) for p in plans])
        staging.record_input(table, self.location, read)

    def _stream(
        self, reading: _Reading, table: str, ref: sa.TableClause, plans: list[ColumnPlan],
        staging: Staging, progress: Progress, counted: int,
    ) -> int:  # fmt: skip
        """Copy the table's rows into staging, batch by batch; returns how many were read."""
        select = sa.select(*(p.select(ref.c[p.name]) for p in plans)).select_from(ref)
        insert = f"INSERT INTO {quote_ident(table)} SELECT * FROM {_BATCH_VIEW}"
        read = 0
        with (
            progress.task(f"{self.name}: {table}", total=counted) as task,
            closing(self._batches(reading.conn, select, plans, table)) as batches,
        ):
            for batch in batches:
                staging.con.register(_BATCH_VIEW, batch)
                try:
                    staging.con.execute(insert)
                finally:
                    staging.con.unregister(_BATCH_VIEW)
                read += batch.num_rows
                task.advance(batch.num_rows)
        return read

    def _batches(
        self, conn: sa.Connection, select: sa.Select, plans: list[ColumnPlan], table: str
    ) -> Iterator[pa.Table]:
        schema = pa.schema([(p.name, p.arrow_type) for p in plans])
        result = conn.execution_options(stream_results=True).execute(select)
        size = min(_FIRST_BATCH_ROWS, self.batch_rows)
        try:
            while rows := result.fetchmany(size):
                columns = zip(plans, zip(*rows, strict=True), strict=True)
                arrays = [self._array(table, plan, list(values)) for plan, values in columns]
                batch = pa.Table.from_arrays(arrays, schema=schema)
                yield batch
                grown = size * BATCH_BYTES // max(batch.nbytes, 1)
                size = max(100, min(self.batch_rows, grown))
        except BaseException:
            # Stopped early: drop the connection rather than drain the rest of a streamed result.
            conn.invalidate()
            raise
        result.close()

    def _array(self, table: str, plan: ColumnPlan, values: list[Any]) -> pa.Array:
        if plan.convert is not None:
            values = plan.convert(values)
        try:
            return pa.array(values, type=plan.arrow_type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as e:
            raise SourceError(
                f"source {self.name!r}: table {table!r}, column {plan.name!r}: a value does not "
                f"fit {plan.staged_type} (declared {plan.declared}): {_one_line(str(e))}"
            ) from None

    # -- connecting ----------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[_Reading]:
        engine = self._engine()
        try:
            try:
                conn = engine.connect()
            except Exception as e:
                if not _is_driver_error(e):
                    raise
                raise SourceUnreachable(
                    f"source {self.name!r}: cannot connect to {self.location}: {self._reason(e)}"
                ) from None
            try:
                yield self._open(conn)
            finally:
                _end(conn)
        finally:
            engine.dispose()

    def _engine(self) -> sa.Engine:
        url = self.url
        if self.secret is not None:
            url = url.set(password=self.secret.reveal())
        try:
            return self.dialect.create_engine(url, self.root)
        except SourceUnreachable as e:
            raise SourceUnreachable(f"source {self.name!r}: {e}") from None
        except (ImportError, sa.exc.ArgumentError) as e:
            raise SourceUnreachable(
                f"source {self.name!r}: cannot use {self.url.drivername!r}: {self._reason(e)}"
            ) from None

    def _open(self, conn: sa.Connection) -> _Reading:
        def start() -> _Reading:
            opened = conn.execution_options(**self.dialect.connection_options)
            self.dialect.begin_snapshot(opened)
            inspector = sa.inspect(opened)
            schema = self.schema or inspector.default_schema_name
            if self.schema and self.schema not in inspector.get_schema_names():
                raise SourceUnreachable(
                    f"source {self.name!r}: schema {self.schema!r} does not exist "
                    "or is not visible to this user"
                )
            tables = inspector.get_table_names(schema=schema)
            views = inspector.get_view_names(schema=schema)
            return self._select_tables(opened, inspector, schema, sorted(tables), sorted(views))

        return self._run(None, start)

    def _select_tables(
        self, conn: sa.Connection, inspector: sa.Inspector, schema: str | None,
        tables: list[str], views: list[str],
    ) -> _Reading:  # fmt: skip
        if self.table_filter is None:
            _check_names(self.name, f"schema {schema!r}", tables, _PICK_ONE)
            return _Reading(conn, inspector, schema, tables, views)
        known = set(tables) | set(views)
        missing = [t for t in self.table_filter if t not in known]
        if missing:
            raise SourceError(
                f"source {self.name!r}: no table or view named {', '.join(map(repr, missing))} "
                f"in schema {schema!r} ({len(tables)} tables there)"
            )
        _check_names(self.name, f"schema {schema!r}", list(self.table_filter), _PICK_ONE)
        return _Reading(conn, inspector, schema, list(self.table_filter), [])

    def _run(self, table: str | None, step: Any) -> Any:
        """Run one step against the server; a driver error becomes a one-line SourceError."""
        try:
            return step()
        except Exception as e:
            if not _is_driver_error(e):
                raise
            where = f"table {table!r}: " if table else ""
            raise SourceError(f"source {self.name!r}: {where}{self._reason(e)}") from None

    def _reason(self, error: BaseException) -> str:
        """The driver's own message, on one line, with the secret scrubbed out of it."""
        return self._scrub(_one_line(_driver_message(error)))

    def _scrub(self, text: str) -> str:
        value = os.environ.get(self.secret.name) if self.secret is not None else None
        if value:
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                text = text.replace(form, "***")
        return text


# -- configuration --------------------------------------------------------------------------


def _parse_url(name: str, text: Any) -> URL:
    try:
        url = make_url(str(text))
    except (sa.exc.ArgumentError, ValueError):
        # Not echoed: a malformed URL may still hold a password.
        raise ConfigError(
            f"source {name!r}: 'url' is not a SQLAlchemy URL "
            "(like mysql+pymysql://user@host:3306/database)"
        ) from None
    if url.password or any(k.lower() in _PASSWORD_KEYS for k in url.query):
        raise ConfigError(
            f"source {name!r}: the url contains a password; remove it from the url and set "
            'password = "env:NAME", naming the environment variable that holds it'
        )
    return url


def _table_filter(name: str, tables: Any) -> tuple[str, ...] | None:
    if tables is None:
        return None
    if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables) or not tables:
        raise ConfigError(f"source {name!r}: 'tables' must be a non-empty list of table names")
    return tuple(dict.fromkeys(tables))


def _check_names(source: str, where: str, names: list[str], hint: str = "") -> None:
    """DuckDB names are case-insensitive: two source names that differ only in case collide."""
    seen: dict[str, str] = {}
    for n in names:
        other = seen.setdefault(n.lower(), n)
        if other != n:
            raise SourceError(
                f"source {source!r}: {where} has both {other!r} and {n!r}, which the staging "
                f"database cannot tell apart{hint}"
            )


# -- staging ---------------------------------------------------------------------------------


def _create(staging: Staging, table: str, plans: list[ColumnPlan]) -> None:
    columns = ", ".join(f"{quote_ident(p.name)} {p.staged_type}" for p in plans)
    staging.con.execute(f"CREATE TABLE {quote_ident(table)} ({columns})")


def _end(conn: sa.Connection) -> None:
    try:
        conn.rollback()  # read-only: nothing to keep, and the snapshot is released
    except Exception:
        conn.invalidate()
    finally:
        conn.close()


# -- driver errors ---------------------------------------------------------------------------


def _is_driver_error(error: BaseException) -> bool:
    return isinstance(error, sa.exc.SQLAlchemyError | OSError) or _is_dbapi(error)


def _is_dbapi(error: BaseException) -> bool:
    # Drivers' own exception classes (DBAPI) all derive from a class named Error.
    return any(cls.__name__ == "Error" for cls in type(error).__mro__[:-2])


def _driver_message(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    args = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"{args[1]} (error {args[0]})"  # pymysql: (code, message)
    return str(orig) or type(orig).__name__


def _one_line(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = re.sub(r"\s+", " ", lines[0]) if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
