"""Row-level comparison: every column of every row, expected against the target.

``compare_relations`` is the engine: a full outer join of two relations on a key in DuckDB,
in key ranges so memory stays bounded, counting per column the matched rows whose values
differ. ``row_reconcile`` runs it on one table of a job: the projection's expected rows
(``create_expected_views``) against the job's rows in the target (``target_relation``).
``workbench.jobs.reconcile`` builds its aggregate checks on the same views and relations.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from workbench.snapshot.staging import quote_ident as q
from workbench.snapshot.staging import sql_string

if TYPE_CHECKING:  # kept out of the import, so that comparing alone loads little
    import pyarrow as pa

    from workbench.mapping.projection import Projection
    from workbench.target.model import TargetTable

DUCKDB_TYPES = {
    "varchar": "VARCHAR", "text": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT",
    "double": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN",
}  # fmt: skip
LINEAGE = ("_source_table", "_source_key")
KEYS_LISTED = 20
FETCH_CHUNK_ROWS = 200_000  # rows per target.fetch when copying the target's rows in
ROW_RULE = "every column compared; NULL equals NULL; doubles compared exactly"


class ReadableTarget(Protocol):
    """What reconciling needs of a target database (``workbench.target.database``)."""

    dialect: str

    def fetch(self, sql: str, params: Any = None) -> pa.Table: ...


# The expected rows, as views on the projection's connection.


def expected_view(table: str) -> str:
    return f"_wb_rc_expected_{table}"


def create_expected_views(projection: Projection, load_parked: set[tuple[str, str]]) -> None:
    """``_wb_rc_expected_<table>``: the rows that should be in the target, typed as there."""
    import pyarrow as pa

    con = projection.con
    # A caller's half-read result (fetchone) would block register(): finish it first.
    con.complete()
    parked = pa.table(
        {"_mapping": [m for m, _ in sorted(load_parked)],
         "_source_key": [k for _, k in sorted(load_parked)]},
        schema=pa.schema([("_mapping", pa.string()), ("_source_key", pa.string())]),
    )  # fmt: skip
    con.register("_wb_rc_parked_arrow", parked)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _wb_rc_load_parked AS FROM _wb_rc_parked_arrow")
    finally:
        con.unregister("_wb_rc_parked_arrow")
    compiled = projection.compiled
    for name in compiled.template.targets():
        table = compiled.model.tables[name]
        cols = ", ".join(f"CAST({q(c)} AS {duckdb_type(t.type)}) AS {q(c)}"
                         for c, t in table.columns.items())  # fmt: skip
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {q(expected_view(name))} AS SELECT {cols}, _mapping, "
            f"_source_table, _source_key FROM {q(compiled.target_view(name))} t WHERE NOT EXISTS "
            "(SELECT 1 FROM _wb_rc_load_parked p "
            "WHERE p._mapping = t._mapping AND p._source_key = t._source_key)"
        )


def duckdb_type(model_type: str) -> str:
    return DUCKDB_TYPES.get(model_type) or model_type.upper()


# Row-level comparison.


@dataclass
class RowComparison:
    """Rows of ``left`` (expected) against ``right`` (target), matched on ``key``."""

    table: str
    key: str
    left_rows: int
    right_rows: int
    matched: int
    left_only: int
    right_only: int
    mismatches: dict[str, int]  # column -> matched rows whose values differ
    samples: dict[str, list[Any]]  # "left_only", "right_only", column -> first keys
    passes: int = 1
    rule: str = ROW_RULE

    @property
    def equal(self) -> bool:
        return not (self.left_only or self.right_only or any(self.mismatches.values()))

    def discrepancies(self) -> list[str]:
        """One line per kind of difference, with the first keys (keys only, no values)."""
        found = [
            ("left_only", f"{self.left_only} rows expected but missing", self.left_only),
            ("right_only", f"{self.right_only} rows not expected", self.right_only),
            *((c, f"{c} differs in {n} of {self.matched} rows", n)
              for c, n in self.mismatches.items()),
        ]  # fmt: skip
        return [
            f"{self.table}: {text}{_listed(self.samples.get(name, []), n)}"
            for name, text, n in found
            if n
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"equal": self.equal, "samples": {
            k: [json_value(v) for v in keys] for k, keys in self.samples.items()}}  # fmt: skip


def row_reconcile(
    projection: Projection,
    target: ReadableTarget,
    job_id: str,
    table: str,
    load_parked_keys: set[tuple[str, str]] | None = None,
) -> RowComparison:
    """Every column of every row of ``table``: the projection's expected rows against the
    job's rows in the target, joined on the primary key."""
    con = projection.con
    create_expected_views(projection, load_parked_keys or set())
    spec = projection.compiled.model.tables[table]
    columns = [c for c in spec.columns if c != spec.primary_key] + list(LINEAGE)
    actual = target_relation(con, target, job_id, spec, [spec.primary_key, *columns])
    try:
        return compare_relations(
            con, q(expected_view(table)), actual.name, spec.primary_key, columns, label=table
        )
    finally:
        actual.close()


def compare_relations(
    con: duckdb.DuckDBPyConnection,
    left_sql: str,
    right_sql: str,
    key: str,
    columns: list[str],
    *,
    label: str = "",
    rel_tol: dict[str, float] | None = None,
    rows_per_pass: int = 2_000_000,
    sample: int = KEYS_LISTED,
) -> RowComparison:
    """Full outer join of two relations on ``key``; per column, the matched rows whose
    values differ (NULL equals NULL; exact unless ``rel_tol`` names a tolerance), and the
    first ``sample`` keys of each kind of difference (0: none).

    Memory is bounded by ``rows_per_pass``: larger inputs are joined one key range at a
    time (ranges from a sample of the left keys), and a range filter prunes the row groups
    of inputs stored in key order, so the passes cost little more than one.
    """
    (n_left,) = duck_rows(con, f"SELECT count(*) FROM {left_sql}")[0]
    (n_right,) = duck_rows(con, f"SELECT count(*) FROM {right_sql}")[0]
    ranges = _key_ranges(con, left_sql, key, max(n_left, n_right), rows_per_pass)
    k = q(key)
    tolerance = rel_tol or {}

    def differs(c: str) -> str:
        lc, rc = f"l.{q(c)}", f"r.{q(c)}"
        if c not in tolerance:
            return f"{lc} IS DISTINCT FROM {rc}"
        return (
            f"CASE WHEN {lc} IS NULL OR {rc} IS NULL THEN {lc} IS DISTINCT FROM {rc} "
            f"ELSE abs({lc} - {rc}) > {tolerance[c]!r} * greatest(abs({lc}), abs({rc})) END"
        )

    # Each joined row gets a bit mask of what differs (bit 0: no right row, bit 1: no left
    # row, then one bit per column, 60 columns to a mask); grouping by the masks counts
    # every kind of difference in one pass, with the first keys of each group.
    names = ["left_only", "right_only", *columns]
    bits = [f"(CAST({differs(c)} AS BIGINT) << {(i + 2) % 60})" for i, c in enumerate(columns)]
    masks = [
        "CASE WHEN r._wb_in IS NULL THEN 1 WHEN l._wb_in IS NULL THEN 2 ELSE "
        + (" | ".join(bits[:58]) or "0") + " END",
        *(f"CASE WHEN l._wb_in AND r._wb_in THEN {' | '.join(bits[i : i + 60])} ELSE 0 END"
          for i in range(58, len(bits), 60)),
    ]  # fmt: skip
    group = ", ".join(f"m{i}" for i in range(len(masks)))
    keys = f"min(k, {sample}) FILTER (WHERE {' OR '.join(f'm{i} <> 0' for i in range(len(masks)))})"
    cols = ", ".join(q(c) for c in columns)
    totals = dict.fromkeys(["matched", *names], 0)
    samples: dict[str, list[Any]] = {}
    for cond in ranges:
        side = f"SELECT {k} AS _wb_k, TRUE AS _wb_in, {cols} FROM {{}} AS s{cond}"
        rows = duck_rows(
            con,
            f"SELECT {group}, count(*), {keys if sample > 0 else 'NULL'} FROM (SELECT "
            f"coalesce(l._wb_k, r._wb_k) AS k, "
            f"{', '.join(f'{m} AS m{i}' for i, m in enumerate(masks))} "
            f"FROM ({side.format(left_sql)}) l "
            f"FULL OUTER JOIN ({side.format(right_sql)}) r ON l._wb_k = r._wb_k) GROUP BY {group}",
        )
        for *mask, n, first in rows:
            bit = _bits(mask)
            hit = [name for i, name in enumerate(names) if bit >> i & 1]
            if not bit & 3:
                totals["matched"] += n
            for name in hit:
                totals[name] += n
                samples[name] = sorted({*samples.get(name, []), *(first or [])})[:sample]
    return RowComparison(
        label or left_sql, key, n_left, n_right, totals["matched"], totals["left_only"],
        totals["right_only"], {c: totals[c] for c in columns}, samples, passes=len(ranges),
    )  # fmt: skip


def _bits(masks: list[int]) -> int:
    """One integer of all the masks' bits (the first holds 60, the others 60 each)."""
    out = masks[0]
    for i, m in enumerate(masks[1:]):
        out |= m << (60 + 60 * i)
    return out


def _key_ranges(con, relation: str, key: str, rows: int, per_pass: int) -> list[str]:
    """WHERE clauses that split the keys into about ``rows / per_pass`` ranges, with bounds
    from a deterministic sample of about 50,000 keys (a fixed slice of their hashes)."""
    passes = max(1, math.ceil(rows / max(1, per_pass)))
    if passes == 1:
        return [""]
    quantiles = [i / passes for i in range(1, passes)]
    k = q(key)
    (bounds,) = duck_rows(
        con,
        f"SELECT quantile_disc({k}, {quantiles}) FROM {relation} "
        f"WHERE {k} IS NOT NULL AND hash({k}) % {max(1, rows // 50_000)} = 0",
    )[0]
    lits = [_literal(b) for b in sorted({b for b in bounds or [] if b is not None})]
    if not lits:
        return [""]
    conds = [f"({k} < {lits[0]} OR {k} IS NULL)"]
    conds += [f"{k} >= {a} AND {k} < {b}" for a, b in itertools.pairwise(lits)]
    return [f" WHERE {c}" for c in [*conds, f"{k} >= {lits[-1]}"]]


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP {sql_string(value.isoformat(sep=' '))}"
    if isinstance(value, dt.date):
        return f"DATE {sql_string(value.isoformat())}"
    return sql_string(str(value))


# The job's rows in the target, as a relation the projection's connection can join.


@dataclass
class _Relation:
    con: duckdb.DuckDBPyConnection
    name: str
    detach: str | None = None  # the attached target file, for a view over it

    def close(self) -> None:
        if self.detach:
            self.con.execute(f"DROP VIEW IF EXISTS {self.name}")
            self.con.execute(f"DETACH {self.detach}")
        else:
            self.con.execute(f"DROP TABLE IF EXISTS {self.name}")


def target_relation(con, target, job_id: str, table: TargetTable, columns: list[str]):
    """The job's rows of ``table`` (``columns``, typed as the model says): a view over the
    target file when a DuckDB target's file can be attached read-only, else copied in
    through ``target.fetch`` in key order, a bounded chunk at a time."""
    where = f"_job_id = {sql_string(job_id)}"
    path = getattr(target, "path", None)
    if target.dialect == "duckdb" and path is not None:
        alias = "_wb_rc_target"
        try:
            con.execute(f"ATTACH {sql_string(str(path))} AS {alias} (READ_ONLY)")
        except duckdb.Error:
            pass  # open read-write by another connection: read through fetch() instead
        else:
            schema = getattr(target, "schema", None) or "main"
            name = f"_wb_rc_actual_{table.name}"
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {q(name)} AS SELECT {_typed(table, columns)} "
                f"FROM {alias}.{q(schema)}.{q(table.name)} WHERE {where}"
            )
            return _Relation(con, q(name), detach=alias)
    name = fetch_into(con, target, f"_wb_rc_actual_{table.name}", table, columns,
                       table.primary_key, where)  # fmt: skip
    return _Relation(con, name)


def _typed(table: TargetTable, columns: list[str]) -> str:
    return ", ".join(
        f"CAST({q(c)} AS {duckdb_type(table.columns[c].type) if c in table.columns else 'VARCHAR'})"
        f" AS {q(c)}"
        for c in columns
    )


def fetch_into(con, target, name, table: TargetTable, columns, key, where) -> str:
    """Copy ``columns`` of the target's rows matching ``where`` into the temp table
    ``name``, by keyset pagination on ``key``: memory holds one chunk at a time."""
    typed = ", ".join(
        f"CAST(NULL AS {duckdb_type(table.columns[c].type) if c in table.columns else 'VARCHAR'})"
        f" AS {q(c)}"
        for c in columns
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {q(name)} AS SELECT {typed} WHERE FALSE")
    select = f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table.name)} WHERE {where}"
    last, chunk = None, FETCH_CHUNK_ROWS
    while True:
        after = "" if last is None else f" AND {q(key)} > {_literal(last)}"
        batch = target.fetch(f"{select}{after} ORDER BY {q(key)} LIMIT {chunk}")
        if batch.num_rows:
            con.register("_wb_rc_chunk", batch)
            try:
                con.execute(f"INSERT INTO {q(name)} BY NAME SELECT * FROM _wb_rc_chunk")
            finally:
                con.unregister("_wb_rc_chunk")
        if batch.num_rows < chunk:
            return q(name)
        last = batch.column(key)[batch.num_rows - 1].as_py()


# Small helpers.


def duck_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _listed(keys: list[Any], total: int) -> str:
    if not keys:
        return ""
    first = f"first {len(keys)} of {total}: " if total > len(keys) else ""
    return f" ({first}{', '.join(str(k) for k in keys)})"
