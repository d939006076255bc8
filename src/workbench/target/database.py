"""An open target database: where a job's batches load, and where they are counted,
checksummed and rolled back.

One class per dialect over a shared base: :class:`DuckDBTarget` (the ``duckdb`` package, a
file) and :class:`PostgresTarget` (psycopg 3 directly, for ``COPY``).

A batch is one transaction (docs/jobs.md). The FAST PATH inserts the whole batch straight
into the target table through the bulk path (Arrow into DuckDB; CSV rendered by pyarrow into
``COPY ... FROM STDIN`` for PostgreSQL), so the database itself enforces the primary key,
foreign keys, NOT NULL and CHECKs, and then writes the batch marker. If the database rejects
the batch, it is rolled back and the SLOW PATH runs: the batch is staged in a temporary
table, the violating rows are found with set-based SQL and parked, the rest is inserted with
``INSERT ... SELECT``; if that still fails, the remaining source-row groups are bisected until
the bad groups are isolated. A group is every row with the same ``(_mapping, _source_key)``
(a source row's variants): it is loaded whole or parked whole.

Messages name the target (:meth:`TargetEnv.describe`) and never hold the password.
"""

from __future__ import annotations

import hashlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, quote_plus

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg.copy import QueuedLibpqWriter

from workbench.errors import SecretError, TargetError
from workbench.target import ddl
from workbench.target.environments import TargetEnv
from workbench.target.model import TargetModel, TargetTable

BATCHES = "_workbench_batches"
# What a batch carries besides the target columns; what the loader stores in each row.
INPUT_LINEAGE = ("_mapping", "_source_table", "_source_key", "_variant")
ROW_LINEAGE = ("_job_id", "_batch", "_source_table", "_source_key")
PARKED_COLUMNS = ("_mapping", "_source_table", "_source_key", "target_table", "rule", "reason")
PARKED_SCHEMA = pa.schema([(name, pa.string()) for name in PARKED_COLUMNS])
CSV_CHUNK_ROWS = 32_768
_VALUE_CHARS = 60  # how much of a value a reason quotes
# Temporary objects of the slow path.
_INPUT, _STAGE, _RAW, _VIOL = "_wb_input", "_wb_stage", "_wb_raw", "_wb_viol"

ARROW_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "text": pa.string(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "boolean": pa.bool_(),
}


class TargetUnreachable(TargetError):
    """The target database cannot be reached or opened at all."""


@dataclass(frozen=True)
class BatchResult:
    """``loaded`` target rows were inserted; ``parked`` has one row per parked source-row
    group (columns :data:`PARKED_COLUMNS`); ``parked_rows`` counts the target rows of those
    groups, so ``loaded + parked_rows`` is the batch's row count."""

    loaded: int
    parked: pa.Table
    parked_rows: int = 0


@dataclass(frozen=True)
class TableChecksum:
    """A table's row count and an order-independent digest of its content."""

    rows: int
    digest: str


@dataclass
class _Batch:
    """A batch ready to load: the target columns present (model order), the normalised
    rows, and each row's source-row group (numbered in order of first appearance)."""

    job_id: str
    number: int
    table: TargetTable
    columns: list[str]
    rows: pa.Table  # columns + INPUT_LINEAGE
    group: np.ndarray  # group of each row
    first: np.ndarray  # first row of each group
    sizes: np.ndarray  # rows of each group

    @property
    def groups(self) -> int:
        return len(self.first)


def open_target(env: TargetEnv, model: TargetModel | None = None) -> TargetDB:
    """Open ``env``; the result is also a context manager that closes it."""
    if env.kind == "duckdb":
        return DuckDBTarget(env, model)
    if env.kind == "postgresql":
        return PostgresTarget(env, model)
    raise TargetError(f"{env.describe()}: unknown target kind {env.kind!r}")


class TargetDB(ABC):
    """An open connection to one target environment."""

    dialect: ClassVar[str]
    # Driver errors that mean "the database rejected these rows" (the slow path's cue).
    rejected: ClassVar[tuple[type[BaseException], ...]]
    driver_error: ClassVar[type[BaseException]]
    double_type: ClassVar[str]

    def __init__(self, env: TargetEnv, model: TargetModel | None = None) -> None:
        self.env = env
        self.model = model
        self.label = env.describe()
        self.schema = env.schema or self.default_schema

    default_schema: ClassVar[str]

    def __enter__(self) -> TargetDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- naming ---------------------------------------------------------------------------

    def q(self, name: str) -> str:
        """A schema-qualified, quoted table name."""
        return f"{_ident(self.schema)}.{_ident(name)}"

    def fail(self, what: str, error: BaseException | str) -> TargetError:
        message = error if isinstance(error, str) else self.reason(error)
        where = f"{self.label}: {what}" if what else self.label
        return TargetError(self.scrub(f"{where}: {message}"))

    def reason(self, error: BaseException) -> str:
        """The driver's message on one line, with the secret scrubbed out of it."""
        return self.scrub(_one_line(str(error) or type(error).__name__))

    def scrub(self, text: str) -> str:
        secret = self.env.password
        value = os.environ.get(secret.name) if secret is not None else None
        if value:
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                text = text.replace(form, "***")
        return text

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Driver errors inside become one-line TargetErrors naming the target."""
        try:
            yield
        except TargetError:
            raise
        except self.driver_error as e:
            raise self.fail(what, e) from None

    # -- dialect primitives ---------------------------------------------------------------

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (``?`` placeholders); returns the rows it changed."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one query (``?`` placeholders); returns its rows."""

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager: one transaction, committed on success, else rolled back."""

    @abstractmethod
    def table_names(self) -> list[str]:
        """The base tables of the schema."""

    @abstractmethod
    def fetch(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a query (``?`` placeholders in both dialects) and return its rows as Arrow."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _fast_insert(self, batch: _Batch) -> int:
        """Inside the open transaction: insert the whole batch through the bulk path."""

    @abstractmethod
    def _slow_load(self, batch: _Batch) -> tuple[int, dict[int, tuple[str, str]]]:
        """Load what can load; returns (rows loaded, {group: (rule, reason)} parked). The
        batch marker is written by :meth:`_marker` inside the same transaction."""

    @abstractmethod
    def _row_digest_sql(self, table: str) -> str:
        """SELECT count(*), sum of the first and second 64 bits of every row's md5."""

    @abstractmethod
    def rule_for(self, error: BaseException) -> str:
        """The rule a database error breaks: target:pk, target:fk:COL, ... or target:error."""

    # -- schema ---------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        return name in self.table_names()

    def schema_version(self) -> tuple[str, str] | None:
        """(model, version) the schema was created from, or None if it has none."""
        if not self.has_table(ddl.VERSION_TABLE):
            return None
        with self.errors("cannot read the schema version"):
            found = self.rows(f"SELECT model, version FROM {self.q(ddl.VERSION_TABLE)}")
        if len(found) > 1:
            raise self.fail("", f"{ddl.VERSION_TABLE} has {len(found)} rows; expected one")
        return (str(found[0][0]), str(found[0][1])) if found else None

    def ensure_schema(self, model: TargetModel) -> bool:
        """Create the model's tables and ``_workbench_batches`` if absent; True if created.
        A schema of another model or version is refused."""
        found = self.schema_version()
        if found is not None and found != (model.name, model.version):
            raise self.fail(
                "",
                f"holds target model {found[0]} {found[1]}, not {model.name} {model.version}; "
                "use a new schema or database",
            )
        statements = [] if found else ddl.statements(model, "postgresql", self.env.schema)
        with self.errors(f"cannot create the {model.name} tables"), self.transaction():
            for element in statements:
                self.execute(_compile(element))
            self.execute(
                f"CREATE TABLE IF NOT EXISTS {self.q(BATCHES)} (job_id VARCHAR NOT NULL, "
                "batch INTEGER NOT NULL, target_table VARCHAR NOT NULL, "
                "rows_loaded INTEGER NOT NULL, rows_parked INTEGER NOT NULL, "
                "committed_at TIMESTAMP NOT NULL, PRIMARY KEY (job_id, batch))"
            )
        self.model = model
        return found is None

    # -- counts ---------------------------------------------------------------------------

    def reference_rows(self, table: str) -> int:
        """Rows in ``table`` (e.g. the tenant's facilities, which preflight expects)."""
        if not self.has_table(table):
            raise self.fail("", f"has no table {table!r}; create the schema first")
        with self.errors(f"cannot count {table}"):
            return int(self.rows(f"SELECT count(*) FROM {self.q(table)}")[0][0])

    def committed_batches(self, job_id: str) -> dict[int, tuple[int, int]]:
        """{batch: (rows_loaded, rows_parked)} of the job's committed batches."""
        if not self.has_table(BATCHES):
            return {}
        with self.errors("cannot read the batch markers"):
            found = self.rows(
                f"SELECT batch, rows_loaded, rows_parked FROM {self.q(BATCHES)} "
                "WHERE job_id = ? ORDER BY batch",
                [job_id],
            )
        return {int(b): (int(loaded), int(parked)) for b, loaded, parked in found}

    def table_counts(self) -> dict[str, int]:
        """Rows in every table of the schema."""
        names = sorted(self.table_names())
        if not names:
            return {}
        sql = " UNION ALL ".join(f"SELECT {_lit(n)}, count(*) FROM {self.q(n)}" for n in names)
        with self.errors("cannot count the tables"):
            return {str(n): int(c) for n, c in self.rows(sql)}

    def lineage_tables(self) -> list[str]:
        """Tables of the schema that carry ``_job_id`` (the loaded ones)."""
        with self.errors("cannot list the loaded tables"):
            found = self.rows(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = ? "
                "AND column_name = '_job_id' ORDER BY table_name",
                [self.schema],
            )
        return [str(r[0]) for r in found]

    def job_counts(self, job_id: str) -> dict[str, int]:
        """Rows per loaded table whose ``_job_id`` is ``job_id`` (zeros included)."""
        names = self.lineage_tables()
        if not names:
            return {}
        sql = " UNION ALL ".join(
            f"SELECT {_lit(n)}, count(*) FROM {self.q(n)} WHERE _job_id = ?" for n in names
        )
        with self.errors(f"cannot count the rows of job {job_id}"):
            return {str(n): int(c) for n, c in self.rows(sql, [job_id] * len(names))}

    def checksums(self, model: TargetModel) -> dict[str, TableChecksum]:
        """Every table of the model and ``_workbench_batches``: rows and a content digest,
        independent of row order. Equal digests from the same engine mean equal content."""
        present = set(self.table_names())
        out: dict[str, TableChecksum] = {}
        for name in [*model.tables, BATCHES]:
            if name not in present:
                out[name] = TableChecksum(0, "absent")
                continue
            with self.errors(f"cannot checksum {name}"):
                rows, high, low = self.rows(self._row_digest_sql(name))[0]
            text = f"{int(rows)}:{int(high or 0)}:{int(low or 0)}"
            out[name] = TableChecksum(int(rows), hashlib.sha256(text.encode()).hexdigest())
        return out

    # -- loading --------------------------------------------------------------------------

    def load_batch(
        self, job_id: str, batch: int, table: TargetTable, rows: pa.Table
    ) -> BatchResult:
        """Load one batch into ``table`` in one transaction, with its marker; rows the
        database rejects are parked whole source-row group by group."""
        prepared = self._prepare(job_id, batch, table, rows)
        if batch in self.committed_batches(job_id):
            raise self.fail("", f"batch {batch} of job {job_id} is already committed")
        what = f"cannot load batch {batch} of job {job_id} into {table.name}"
        with self.errors(what):
            try:
                with self._bulk_input(prepared), self.transaction():
                    try:
                        loaded = self._fast_insert(prepared)
                    except self.rejected as e:
                        raise _Rejected(e) from e
                    self._marker(prepared, loaded, 0)
                return self._result(prepared, loaded, {})
            except _Rejected:
                pass
            loaded, parked = self._slow_load(prepared)
        return self._result(prepared, loaded, parked)

    @contextmanager
    def _bulk_input(self, batch: _Batch) -> Iterator[None]:
        """Around the fast path's transaction: make the batch visible to the database."""
        yield

    def _marker(self, batch: _Batch, loaded: int, parked_rows: int) -> None:
        self.execute(
            f"INSERT INTO {self.q(BATCHES)} (job_id, batch, target_table, rows_loaded, "
            f"rows_parked, committed_at) VALUES (?, ?, ?, ?, ?, {self.now_sql})",
            [batch.job_id, batch.number, batch.table.name, loaded, parked_rows],
        )

    now_sql: ClassVar[str]

    def _prepare(self, job_id: str, number: int, table: TargetTable, rows: pa.Table) -> _Batch:
        if table.reference:
            raise self.fail("", f"{table.name} is a reference table; a migration never loads it")
        missing = [c for c in INPUT_LINEAGE[:3] if c not in rows.column_names]
        if missing:
            raise self.fail("", f"the batch for {table.name} has no {', '.join(missing)} column")
        unknown = [
            c for c in rows.column_names if c not in table.columns and c not in INPUT_LINEAGE
        ]
        if unknown:
            raise self.fail("", f"{table.name} has no column {', '.join(map(repr, unknown))}")
        columns = [c for c in table.columns if c in rows.column_names]
        arrays: dict[str, pa.ChunkedArray] = {}
        for c in columns:
            arrays[c] = _normalise(rows[c], _arrow_type(table.columns[c].type))
            if pa.types.is_nested(arrays[c].type) or pa.types.is_binary(arrays[c].type):
                raise self.fail("", f"{table.name}.{c}: cannot load {arrays[c].type} values")
        n = rows.num_rows
        for c in INPUT_LINEAGE:
            col = rows[c] if c in rows.column_names else pa.chunked_array([pa.nulls(n)])
            arrays[c] = _normalise(col, pa.string())
        data = pa.table(arrays)
        key = pc.binary_join_element_wise(
            pc.fill_null(data["_mapping"], ""), pc.fill_null(data["_source_key"], ""), "\x1f"
        )
        encoded = pc.dictionary_encode(key.combine_chunks() if n else pa.array([], pa.string()))
        group = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        _, first = np.unique(group, return_index=True)
        sizes = np.bincount(group, minlength=len(first)) if n else np.zeros(0, np.int64)
        return _Batch(job_id, number, table, columns, data, group, first, sizes)

    def _result(
        self, batch: _Batch, loaded: int, parked: dict[int, tuple[str, str]]
    ) -> BatchResult:
        keep = np.ones(batch.groups, dtype=bool)
        keep[list(parked)] = False
        expected = int(batch.sizes[keep].sum())
        if loaded != expected:  # every group is loaded whole or parked whole
            raise self.fail("", f"batch {batch.number}: loaded {loaded} rows, expected {expected}")
        order = sorted(parked)
        first = batch.first[order] if order else np.zeros(0, np.int64)
        lineage = {
            c: batch.rows[c].take(pa.array(first, pa.int64())).cast(pa.string())
            for c in INPUT_LINEAGE[:3]
        }
        table = pa.table(
            {
                **lineage,
                "target_table": pa.array([batch.table.name] * len(order), pa.string()),
                "rule": pa.array([parked[g][0] for g in order], pa.string()),
                "reason": pa.array([parked[g][1] for g in order], pa.string()),
            },
            schema=PARKED_SCHEMA,
        )
        return BatchResult(loaded, table, int(batch.sizes[~keep].sum()))

    # -- the slow path, shared SQL ---------------------------------------------------------

    def _stage_arrow(self, batch: _Batch) -> pa.Table:
        """The batch with ``_row`` (input order) and ``_g`` (group) for staging."""
        n = batch.rows.num_rows
        data = batch.rows.append_column("_row", pa.array(np.arange(n, dtype=np.int64)))
        return data.append_column("_g", pa.array(batch.group))

    def _insert_sql(self, batch: _Batch, stage: str, where: str) -> str:
        targets = [*batch.columns, *ROW_LINEAGE]
        values = [
            *(f"s.{_ident(c)}" for c in batch.columns),
            _lit(batch.job_id),
            str(int(batch.number)),
            "s._source_table",
            "s._source_key",
        ]
        return (
            f"INSERT INTO {self.q(batch.table.name)} ({', '.join(map(_ident, targets))}) "
            f"SELECT {', '.join(values)} FROM {stage} s WHERE {where} "
            f"AND NOT EXISTS (SELECT 1 FROM {_VIOL} v WHERE v._g = s._g) ORDER BY s._row"
        )

    def _violation_sql(self, batch: _Batch, stage: str) -> list[str]:
        """SELECTs of (_g, _row, prio, rule, reason): the rows the table's constraints would
        reject, found set-based on the typed stage table."""
        t = batch.table
        cols = set(batch.columns)
        variant = "CASE WHEN s._variant IS NULL THEN '' ELSE ' (variant ' || s._variant || ')' END"

        def select(prio: int, rule: str, reason: str, rest: str) -> str:
            return (
                f"SELECT s._g, s._row, {prio}, {_lit(rule)}, {reason} || {variant} "
                f"FROM {stage} s {rest}"
            )

        parts: list[str] = []
        pk = t.primary_key
        if pk in cols:
            p = _ident(pk)
            parts.append(
                select(
                    1, "target:pk",
                    f"{_lit(pk + ' ')} || {_quoted('s.' + p)} || {_lit(' is already in ' + t.name)}"
                    " || ' (job ' || coalesce(t._job_id, 'none') || ')'",
                    f"JOIN {self.q(t.name)} t ON t.{p} = s.{p}",
                )
            )  # fmt: skip
            parts.append(
                select(
                    1, "target:pk",
                    f"{_lit(pk + ' ')} || {_quoted('s.' + p)} || ' appears twice in the batch'",
                    f"WHERE s._row IN (SELECT _row FROM (SELECT _row, row_number() OVER "
                    f"(PARTITION BY {p} ORDER BY _row) AS n FROM {stage} WHERE {p} IS NOT NULL)"
                    " d WHERE n > 1)",
                )
            )  # fmt: skip
        for c in t.required:
            if c not in cols:
                parts.append(
                    select(2, f"target:not_null:{c}", _lit(f"{c} is required but missing"), "")
                )
            else:
                parts.append(
                    select(
                        2, f"target:not_null:{c}", _lit(f"{c} is required but null"),
                        f"WHERE s.{_ident(c)} IS NULL",
                    )
                )  # fmt: skip
        value_sets = self.model.value_sets if self.model is not None else {}
        for c in batch.columns:
            vs = value_sets.get(t.columns[c].value_set or "")
            if vs is None or vs.codes is None:
                continue
            codes = ", ".join(_lit(code) for code in vs.codes)
            allowed = f" is not one of {vs.name} ({', '.join(vs.codes)})"
            parts.append(
                select(
                    3, f"target:check:{c}",
                    f"{_lit(c + ' ')} || {_quoted('s.' + _ident(c))} || "
                    f"{_lit(allowed)}",
                    f"WHERE s.{_ident(c)} IS NOT NULL AND s.{_ident(c)} NOT IN ({codes})",
                )
            )  # fmt: skip
        for column, ref_table, ref_column in t.foreign_keys:
            if column not in cols:
                continue
            c = _ident(column)
            exists = (
                f"EXISTS (SELECT 1 FROM {self.q(ref_table)} p WHERE p.{_ident(ref_column)} = s.{c})"
            )
            own = ""
            if ref_table == t.name and pk in cols:  # a parent in this batch will load too
                own = f" AND NOT EXISTS (SELECT 1 FROM {stage} o WHERE o.{_ident(pk)} = s.{c})"
            parts.append(
                select(
                    4, f"target:fk:{column}",
                    f"{_lit(column + ' ')} || {_quoted('s.' + c)} || "
                    f"{_lit(' has no row in ' + ref_table)}",
                    f"WHERE s.{c} IS NOT NULL AND NOT {exists}{own}",
                )
            )  # fmt: skip
        return parts

    def _first_violations(self) -> dict[int, tuple[str, str]]:
        found = self.rows(
            f"SELECT _g, rule, reason FROM (SELECT _g, rule, reason, row_number() OVER "
            f"(PARTITION BY _g ORDER BY prio, _row, rule) AS n FROM {_VIOL}) v WHERE n = 1"
        )
        return {int(g): (str(rule), str(reason)) for g, rule, reason in found}

    def _park(self, group: int, rule: str, reason: str) -> None:
        self.execute(
            f"INSERT INTO {_VIOL} VALUES (?, -1, 9, ?, ?)", [group, rule, self.scrub(reason)]
        )

    def _bisect(self, lo: int, hi: int, probe: Callable[[int, int], BaseException | None]) -> None:
        """Find the groups in [lo, hi] that cannot load; park each with the database's error.
        ``probe`` tries groups lo..hi (after every earlier group that is not parked)."""
        error = probe(lo, hi)
        if error is None:
            return
        if lo == hi:
            self._park(lo, self.rule_for(error), self.reason(error))
            return
        mid = (lo + hi) // 2
        self._bisect(lo, mid, probe)
        self._bisect(mid + 1, hi, probe)

    # -- rollback -------------------------------------------------------------------------

    def delete_job(self, job_id: str, model: TargetModel) -> dict[str, int]:
        """Delete exactly the rows whose ``_job_id`` is ``job_id`` from every loaded table
        (children first) and the job's batch markers; returns rows deleted per table."""
        present = set(self.table_names())
        tables = [t for t in reversed(model.load_order()) if not t.reference]
        tables = [t for t in tables if t.name in present]
        self._check_no_dependants(job_id, tables)
        steps = self._delete_steps(job_id, tables)
        out: dict[str, int] = {t.name: 0 for t in tables}
        with self.errors(f"cannot roll back job {job_id}"):
            for i, step in enumerate(steps):
                with self.transaction():
                    helpers = self._delete_helpers(model, step)
                    for t in step:
                        out[t.name] = self.execute(
                            f"DELETE FROM {self.q(t.name)} WHERE _job_id = ?", [job_id]
                        )
                    if i == len(steps) - 1 and BATCHES in present:
                        out[BATCHES] = self.execute(
                            f"DELETE FROM {self.q(BATCHES)} WHERE job_id = ?", [job_id]
                        )
                    for statement in helpers:
                        self.execute(statement)
        return out

    def _delete_steps(self, job_id: str, tables: list[TargetTable]) -> list[list[TargetTable]]:
        """The transactions of a rollback: one (PostgreSQL)."""
        return [tables]

    def _delete_helpers(self, model: TargetModel, tables: list[TargetTable]) -> list[str]:
        """Inside a rollback's transaction, before its deletes: prepare what they need;
        returns the statements that undo it before the commit."""
        return []

    def _check_no_dependants(self, job_id: str, tables: list[TargetTable]) -> None:
        """Refuse when rows the job does not own refer to rows it would delete."""
        names = {t.name for t in tables}
        for child in tables:
            for column, parent, ref_column in child.foreign_keys:
                if parent not in names:
                    continue
                with self.errors(f"cannot roll back job {job_id}"):
                    (n,) = self.rows(
                        f"SELECT count(*) FROM {self.q(child.name)} c JOIN {self.q(parent)} p "
                        f"ON c.{_ident(column)} = p.{_ident(ref_column)} WHERE p._job_id = ? "
                        "AND (c._job_id IS NULL OR c._job_id <> ?)",
                        [job_id, job_id],
                    )[0]
                if n:
                    raise self.fail(
                        f"cannot roll back job {job_id}",
                        f"{n} {child.name} rows not loaded by it refer to its {parent} rows "
                        f"through {column}; roll back those first",
                    )


class _Rejected(Exception):
    """The fast path's insert was rejected by a constraint or a bad value."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


# -- DuckDB ---------------------------------------------------------------------------------


class DuckDBTarget(TargetDB):
    """A DuckDB file (the sandbox EHR), through the duckdb package."""

    dialect = "duckdb"
    default_schema = "main"
    driver_error = duckdb.Error
    rejected = (duckdb.IntegrityError, duckdb.DataError, duckdb.InvalidInputException)
    double_type = "DOUBLE"
    now_sql = "CAST(current_timestamp AS TIMESTAMP)"

    def __init__(self, env: TargetEnv, model: TargetModel | None = None) -> None:
        super().__init__(env, model)
        if env.path is None:
            raise TargetError(f"{self.label}: a duckdb target needs a path")
        try:
            env.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(env.path))
        except (OSError, duckdb.Error) as e:
            raise TargetUnreachable(self.scrub(f"{self.label}: {self.reason(e)}")) from None
        self.con.execute("SET enable_progress_bar = false")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        found = self.con.execute(sql, list(params)).fetchall()
        if found and len(found[0]) == 1 and isinstance(found[0][0], int):
            return int(found[0][0])
        return 0

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.begin()
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        self.con.commit()

    def table_names(self) -> list[str]:
        with self.errors("cannot list the tables"):
            found = self.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
                "current_database() AND table_schema = ? AND table_type = 'BASE TABLE'",
                [self.schema],
            )
        return [str(r[0]) for r in found]

    def lineage_tables(self) -> list[str]:
        with self.errors("cannot list the loaded tables"):
            found = self.rows(
                "SELECT table_name FROM information_schema.columns WHERE table_catalog = "
                "current_database() AND table_schema = ? AND column_name = '_job_id' "
                "ORDER BY table_name",
                [self.schema],
            )
        return [str(r[0]) for r in found]

    def fetch(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self.errors("query failed"):
            self.con.execute(f"SET schema = {_lit(self.schema)}")
            return self.con.sql(sql, params=list(params) if params else None).to_arrow_table()

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
            self.con = None  # type: ignore[assignment]

    def _row_digest_sql(self, table: str) -> str:
        text = "CAST(to_json(_wb_r) AS VARCHAR)"
        return (
            f"SELECT count(*), sum(md5_number_upper({text})), "
            f"sum(md5_number_lower({text})) FROM {self.q(table)} _wb_r"
        )

    @contextmanager
    def _bulk_input(self, batch: _Batch) -> Iterator[None]:
        self.con.register(_INPUT, batch.rows)
        try:
            yield
        finally:
            self.con.unregister(_INPUT)

    def _fast_insert(self, batch: _Batch) -> int:
        return self.execute(self._insert_from(batch, _INPUT))

    def _insert_from(self, batch: _Batch, source: str) -> str:
        targets = [*batch.columns, *ROW_LINEAGE]
        values = [
            *(_ident(c) for c in batch.columns),
            _lit(batch.job_id),
            str(int(batch.number)),
            "_source_table",
            "_source_key",
        ]
        return (
            f"INSERT INTO {self.q(batch.table.name)} ({', '.join(map(_ident, targets))}) "
            f"SELECT {', '.join(values)} FROM {source}"
        )

    def _slow_load(self, batch: _Batch) -> tuple[int, dict[int, tuple[str, str]]]:
        # DuckDB has no savepoints and aborts a transaction on its first error, so the
        # staging and the search run outside the batch's transaction (on temporary tables,
        # which only this connection sees), and the batch is then loaded in one transaction.
        t = batch.table
        self.con.register(_INPUT, self._stage_arrow(batch))
        try:
            typed, type_checks = [], []
            for c in batch.columns:
                want = _sql_type(t.columns[c].type, self.double_type)
                have = batch.rows[c].type
                if have == _arrow_type(t.columns[c].type):
                    typed.append(_ident(c))
                    continue
                typed.append(f"TRY_CAST({_ident(c)} AS {want}) AS {_ident(c)}")
                type_checks.append(
                    f"SELECT _g, _row, 0, {_lit('target:type:' + c)}, "
                    f"{_lit(c + ' ')} || {_quoted(_ident(c))} || {_lit(' is not a valid ' + want)} "
                    f"FROM {_INPUT} WHERE {_ident(c)} IS NOT NULL "
                    f"AND TRY_CAST({_ident(c)} AS {want}) IS NULL"
                )
            lineage = "_row, _g, _mapping, _source_table, _source_key, _variant"
            self.execute(
                f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS "
                f"SELECT {', '.join([lineage, *typed])} FROM {_INPUT}"
            )
            self.execute(
                f"CREATE OR REPLACE TEMP TABLE {_VIOL} (_g BIGINT, _row BIGINT, prio INTEGER, "
                "rule VARCHAR, reason VARCHAR)"
            )
            for part in [*type_checks, *self._violation_sql(batch, _STAGE)]:
                self.execute(f"INSERT INTO {_VIOL} {part}")
            insert = self._insert_sql(batch, _STAGE, "true")
            try:
                return self._final(batch, insert)
            except self.rejected:
                pass

            def probe(lo: int, hi: int) -> BaseException | None:
                self.con.begin()
                try:
                    self.execute(self._insert_sql(batch, _STAGE, f"s._g <= {int(hi)}"))
                except self.rejected as e:
                    return e
                finally:
                    self.con.rollback()
                return None

            self._bisect(0, batch.groups - 1, probe)
            return self._final(batch, insert)
        finally:
            self.con.unregister(_INPUT)
            self.con.execute(f"DROP TABLE IF EXISTS {_STAGE}; DROP TABLE IF EXISTS {_VIOL}")

    def _final(self, batch: _Batch, insert: str) -> tuple[int, dict[int, tuple[str, str]]]:
        parked = self._first_violations()
        parked_rows = int(batch.sizes[list(parked)].sum()) if parked else 0
        with self.transaction():
            loaded = self.execute(insert)
            self._marker(batch, loaded, parked_rows)
        return loaded, parked

    def _delete_steps(self, job_id: str, tables: list[TargetTable]) -> list[list[TargetTable]]:
        # DuckDB checks a parent's delete against child rows deleted earlier in the same
        # transaction (its documented foreign-key limitation), so a table whose children
        # lost rows starts a new transaction. No other writer can open the file meanwhile,
        # and the dependants were checked first; a rollback cut short is finished by
        # running it again (it deletes by _job_id).
        counts = self.job_counts(job_id)
        steps: list[list[TargetTable]] = [[]]
        deleted: set[str] = set()
        for t in tables:
            if not counts.get(t.name):
                continue
            children = {c.name for c in tables if any(r == t.name for _, r, _ in c.foreign_keys)}
            if children & deleted:
                steps.append([])
                deleted = set()
            steps[-1].append(t)
            deleted.add(t.name)
        return steps

    def rule_for(self, error: BaseException) -> str:
        text = str(error)
        if m := re.search(r"NOT NULL constraint failed: [^.\s]+\.(\w+)", text):
            return f"target:not_null:{m[1]}"
        if m := re.search(r"CHECK constraint failed.*?CHECK\(\(\"?(\w+)\"? IN", text):
            return f"target:check:{m[1]}"
        if "CHECK constraint failed" in text:
            return "target:check"
        if "primary key" in text or "Duplicate key" in text:
            return "target:pk"
        if m := re.search(r"foreign key constraint because key \"(\w+):", text):
            return f"target:fk:{m[1]}"
        return "target:error"


# -- PostgreSQL -----------------------------------------------------------------------------


class PostgresTarget(TargetDB):
    """A PostgreSQL database, through psycopg 3 (COPY), in the environment's schema."""

    dialect = "postgresql"
    default_schema = "public"
    driver_error = psycopg.Error
    rejected = (psycopg.IntegrityError, psycopg.DataError)
    double_type = "double precision"
    now_sql = "localtimestamp"

    def __init__(self, env: TargetEnv, model: TargetModel | None = None) -> None:
        super().__init__(env, model)
        url = env.sa_url
        params: dict[str, Any] = {k: v for k, v in url.query.items() if isinstance(v, str)}
        params.update(
            host=url.host or "localhost",
            port=url.port or 5432,
            dbname=url.database or "",
            user=url.username or "",
            application_name="workbench",
            connect_timeout=params.get("connect_timeout", 10),
        )
        if env.password is not None:
            try:
                params["password"] = env.password.reveal()
            except SecretError as e:
                raise TargetUnreachable(self.scrub(f"{self.label}: {e}")) from None
        try:
            self.conn = psycopg.connect(autocommit=True, **params)
        except psycopg.Error as e:
            raise TargetUnreachable(self.scrub(f"{self.label}: {self.reason(e)}")) from None
        with self.errors("cannot set the search path"):
            self.conn.execute(f"SET search_path TO {_ident(self.schema)}")

    def reason(self, error: BaseException) -> str:
        diag = getattr(error, "diag", None)
        primary = getattr(diag, "message_primary", None)
        if primary:
            # "Failing row contains (...)" would copy a patient's whole row into a reason.
            detail = getattr(diag, "message_detail", None)
            if detail and detail.startswith("Failing row contains"):
                detail = None
            text = f"{primary} ({detail})" if detail else primary
            return self.scrub(_one_line(text))
        return self.scrub(_one_line(str(error) or type(error).__name__))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.conn.cursor() as cur:
            cur.execute(_pg_sql(sql, params), list(params) if params else None)
            return max(cur.rowcount, 0)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(_pg_sql(sql, params), list(params) if params else None)
            return cur.fetchall()

    def transaction(self) -> Any:
        return self.conn.transaction()

    def table_names(self) -> list[str]:
        with self.errors("cannot list the tables"):
            found = self.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND table_type = 'BASE TABLE'",
                [self.schema],
            )
        return [str(r[0]) for r in found]

    def fetch(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self.errors("query failed"), self.conn.cursor() as cur:
            cur.execute(_pg_sql(sql, params or ()), list(params) if params else None)
            names = [d.name for d in cur.description or []]
            types = [_PG_ARROW.get(d.type_code) for d in cur.description or []]
            found = cur.fetchall()
        columns = list(zip(*found, strict=True)) if found else [() for _ in names]
        arrays = [
            pa.array(list(values), type=type_) if type_ is not None or values
            else pa.array([], pa.string())
            for values, type_ in zip(columns, types, strict=True)
        ]  # fmt: skip
        return pa.table(dict(zip(names, arrays, strict=True))) if names else pa.table({})

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None and not conn.closed:
            conn.close()

    def _row_digest_sql(self, table: str) -> str:
        part = "('x' || substr(md5(_wb_r::text), {}, 16))::bit(64)::bigint"
        return (
            f"SELECT count(*), sum({part.format(1)}), sum({part.format(17)}) "
            f"FROM {self.q(table)} _wb_r"
        )

    def _copy(self, sql: str, data: pa.Table) -> int:
        """COPY ``data`` as CSV: pyarrow renders it chunk by chunk while a psycopg thread
        sends the previous chunk. Strings are always quoted, so an empty string is "" and
        a NULL is an unquoted empty field, which PostgreSQL's CSV reads back as NULL."""
        with self.conn.cursor() as cur:
            with cur.copy(sql, writer=QueuedLibpqWriter(cur)) as copy:
                for chunk in _csv_chunks(data):
                    copy.write(chunk)
            return max(cur.rowcount, 0)

    def _fast_insert(self, batch: _Batch) -> int:
        n = batch.rows.num_rows
        data = pa.table(
            {
                **{c: batch.rows[c] for c in batch.columns},
                "_job_id": pa.repeat(pa.scalar(batch.job_id, pa.string()), n),
                "_batch": pa.repeat(pa.scalar(batch.number, pa.int32()), n),
                "_source_table": batch.rows["_source_table"],
                "_source_key": batch.rows["_source_key"],
            }
        )
        names = ", ".join(_ident(c) for c in data.column_names)
        return self._copy(
            f"COPY {self.q(batch.table.name)} ({names}) FROM STDIN (FORMAT csv)", data
        )

    def _slow_load(self, batch: _Batch) -> tuple[int, dict[int, tuple[str, str]]]:
        staged = self._stage_arrow(batch)
        # PostgreSQL text cannot hold NUL: such groups cannot even be staged.
        nul: dict[int, tuple[str, str]] = {}
        for c in [*batch.columns, *INPUT_LINEAGE]:
            if pa.types.is_string(staged[c].type):
                hits = pc.fill_null(pc.match_substring(staged[c], "\x00"), False)
                for g in np.unique(batch.group[np.asarray(hits)]):
                    nul.setdefault(int(g), (f"target:type:{c}", f"{c} holds a NUL character"))
        if nul:
            keep = ~np.isin(batch.group, np.array(list(nul), dtype=np.int64))
            staged = staged.filter(pa.array(keep))
        lineage = ["_row", "_g", *INPUT_LINEAGE]
        with self.transaction():
            raw_cols = [f"{_ident(c)} text" for c in batch.columns]
            self.execute(
                f"CREATE TEMP TABLE {_RAW} (_row bigint, _g bigint, _mapping text, "
                f"_source_table text, _source_key text, _variant text"
                f"{''.join(', ' + c for c in raw_cols)}) ON COMMIT DROP"
            )
            order = [*lineage, *batch.columns]
            names = ", ".join(_ident(c) for c in order)
            self._copy(f"COPY {_RAW} ({names}) FROM STDIN (FORMAT csv)", staged.select(order))
            self.execute(
                f"CREATE TEMP TABLE {_VIOL} (_g bigint, _row bigint, prio integer, "
                "rule text, reason text) ON COMMIT DROP"
            )
            for g, (rule, reason) in nul.items():
                self._park(g, rule, reason)
            self._typed_stage(batch)
            for part in self._violation_sql(batch, _STAGE):
                self.execute(f"INSERT INTO {_VIOL} {part}")
            loaded = 0

            def probe(lo: int, hi: int) -> BaseException | None:
                nonlocal loaded
                try:
                    with self.transaction():  # a savepoint: what loads, stays
                        loaded += self.execute(
                            self._insert_sql(batch, _STAGE, f"s._g BETWEEN {lo} AND {hi}")
                        )
                except self.rejected as e:
                    return e
                return None

            if batch.groups:
                self._bisect(0, batch.groups - 1, probe)
            parked = self._first_violations()
            parked_rows = int(batch.sizes[list(parked)].sum()) if parked else 0
            self._marker(batch, loaded, parked_rows)
        return loaded, parked

    def _typed_stage(self, batch: _Batch) -> None:
        """Cast the text stage to the target's types; values that do not cast park their
        group (target:type:COL), found with a per-value test only for a failing column."""
        t = batch.table
        casts = {c: _sql_type(t.columns[c].type, self.double_type) for c in batch.columns}
        lineage = "_row, _g, _mapping, _source_table, _source_key, _variant"
        typed = "".join(f", {_ident(c)}::{casts[c]} AS {_ident(c)}" for c in batch.columns)
        create = (
            f"CREATE TEMP TABLE {_STAGE} ON COMMIT DROP AS SELECT {lineage}{typed} FROM {_RAW} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_VIOL} v WHERE v._g = s._g)"
        )
        try:
            with self.transaction():
                self.execute(create)
                return
        except psycopg.DataError:
            pass
        for i, c in enumerate(batch.columns):
            if casts[c] in ("varchar", "text"):
                continue
            try:
                with self.transaction():
                    self.execute(f"SELECT count({_ident(c)}::{casts[c]}) FROM {_RAW}")
                    continue
            except psycopg.DataError:
                pass
            fn = f"pg_temp._wb_castable_{i}"
            self.execute(
                f"CREATE FUNCTION {fn}(v text) RETURNS boolean LANGUAGE plpgsql AS $$ "
                f"BEGIN PERFORM v::{casts[c]}; RETURN true; "
                "EXCEPTION WHEN others THEN RETURN false; END $$"
            )
            self.execute(
                f"INSERT INTO {_VIOL} SELECT _g, _row, 0, {_lit('target:type:' + c)}, "
                f"{_lit(c + ' ')} || {_quoted(_ident(c))} || "
                f"{_lit(' is not a valid ' + casts[c])} FROM {_RAW} "
                f"WHERE {_ident(c)} IS NOT NULL AND NOT {fn}({_ident(c)})"
            )
        self.execute(create)

    def _delete_helpers(self, model: TargetModel, tables: list[TargetTable]) -> list[str]:
        # Deleting a parent row makes PostgreSQL look for child rows that still refer to
        # it, one query per deleted row; without an index on the child's column each is a
        # scan of the child table, and a rollback grows with parents x children. A missing
        # index is built for the rollback and dropped before its commit.
        deleting = {t.name for t in tables}
        present = set(self.table_names())
        undo: list[str] = []
        for child in (t for t in model.tables.values() if t.name in present):
            for column, parent, _ in child.foreign_keys:
                if (
                    parent not in deleting
                    or child.name == parent
                    or self._indexed(child.name, column)
                ):
                    continue
                name = f"_wb_rollback_{child.name}_{column}"[:63]
                self.execute(
                    f"CREATE INDEX {_ident(name)} ON {self.q(child.name)} ({_ident(column)})"
                )
                undo.append(f"DROP INDEX {_ident(self.schema)}.{_ident(name)}")
        return undo

    def _indexed(self, table: str, column: str) -> bool:
        """Does an index of ``table`` start with ``column``?"""
        return bool(
            self.rows(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a "
                "ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
                "WHERE n.nspname = ? AND c.relname = ? AND a.attname = ?",
                [self.schema, table, column],
            )[0][0]
        )

    def rule_for(self, error: BaseException) -> str:
        diag = getattr(error, "diag", None)
        constraint = getattr(diag, "constraint_name", None) or ""
        table = getattr(diag, "table_name", None) or ""
        if isinstance(error, psycopg.errors.NotNullViolation):
            return f"target:not_null:{getattr(diag, 'column_name', None) or '?'}"
        if isinstance(error, psycopg.errors.UniqueViolation):
            return "target:pk"
        if isinstance(error, psycopg.errors.ForeignKeyViolation):
            return f"target:fk:{constraint.removeprefix(f'fk_{table}_')}"
        if isinstance(error, psycopg.errors.CheckViolation):
            return f"target:check:{constraint.removeprefix(f'ck_{table}_')}"
        return "target:error"


# -- helpers --------------------------------------------------------------------------------

_PG_ARROW: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float32(),
    701: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    19: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quoted(expr: str) -> str:
    """SQL: the value of ``expr`` in quotes (shortened), or null."""
    return f"coalesce('''' || left(CAST({expr} AS VARCHAR), {_VALUE_CHARS}) || '''', 'null')"


def _one_line(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = re.sub(r"\s+", " ", " ".join(lines[:1])) if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _compile(element: Any) -> str:
    compiled = element.compile(
        dialect=ddl.COMPILERS["postgresql"], compile_kwargs={"literal_binds": True}
    )
    return str(compiled).strip()


def _arrow_type(type_: str) -> pa.DataType:
    if type_ in ARROW_TYPES:
        return ARROW_TYPES[type_]
    precision, scale = type_.removeprefix("decimal(").rstrip(")").split(",")
    return pa.decimal128(int(precision), int(scale))


def _sql_type(type_: str, double: str) -> str:
    if type_ == "double":
        return double
    if type_.startswith("decimal("):
        return "numeric" + type_.removeprefix("decimal")
    return type_


def _normalise(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Arrow the bulk paths can write: dictionaries decoded, views made plain, and the
    target's type where a safe cast gets there (otherwise the database judges the value)."""
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column = column.cast(type_.value_type)
    if pa.types.is_string_view(column.type) or pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    if column.type != target:
        with suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            column = column.cast(target)
    return column


def _csv_chunks(data: pa.Table) -> Iterator[pa.Buffer]:
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for chunk in data.to_batches(max_chunksize=CSV_CHUNK_ROWS):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(chunk, sink, options)
        yield sink.getvalue()


def _pg_sql(sql: str, params: Sequence[Any] | None) -> str:
    """``?`` placeholders (outside quotes) become psycopg's ``%s``; ``%`` is escaped."""
    if not params:
        return sql
    out, quote_char = [], ""
    for ch in sql:
        if quote_char:
            if ch == quote_char:
                quote_char = ""
            out.append("%%" if ch == "%" else ch)
        elif ch in ("'", '"'):
            quote_char = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        else:
            out.append("%%" if ch == "%" else ch)
    return "".join(out)
