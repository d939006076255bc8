"""Reconcile a job: does the target hold exactly what the projection said would load?

``reconcile`` checks two things, exactly and set-based, and lists every difference in one line:

- per mapping and source table, source rows = loaded + parked + excluded, where *loaded* is
  read from the target's lineage columns (``_source_table``, ``_source_key``);
- per target table, the expected rows (the projection's loadable rows minus those parked at
  load) against the job's rows in the target: row counts, count/sum/min/max of numeric
  columns, counts per code of value-set columns, and an order-independent hash of the
  primary keys. Each side is aggregated by its own engine; only the aggregates travel.

``row_reconcile`` compares every column of every row of one table with ``compare_relations``:
a full outer join on the key in DuckDB, in key ranges so memory stays bounded.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from workbench.snapshot.staging import quote_ident as q
from workbench.snapshot.staging import sql_string

if TYPE_CHECKING:  # kept out of the import, so that comparing alone loads little
    import pyarrow as pa

    from workbench.mapping.compile import CompiledMapping
    from workbench.mapping.projection import Projection
    from workbench.target.model import TargetTable

NUMERIC_TYPES = ("integer", "bigint", "double")
DUCKDB_TYPES = {
    "varchar": "VARCHAR", "text": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT",
    "double": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP", "boolean": "BOOLEAN",
}  # fmt: skip
LINEAGE = ("_source_table", "_source_key")
KEYS_LISTED = 20
TOP_CODES = 20
FETCH_CHUNK_ROWS = 200_000  # rows per target.fetch when copying the target's rows in
# Summation order differs between engines (and between runs of a parallel engine), so sums
# of doubles agree only to rounding; counts, minima, maxima and every other sum are exact.
DOUBLE_SUM_TOLERANCE = 1e-9
RULES = (
    "counts, integer and decimal sums, minima, maxima, codes and key hashes are compared "
    f"exactly; sums of doubles within a relative {DOUBLE_SUM_TOLERANCE:g}"
)
ROW_RULE = "every column compared; NULL equals NULL; doubles compared exactly"


class ReadableTarget(Protocol):
    """What reconciling needs of a target database (``workbench.target.database``)."""

    dialect: str

    def fetch(self, sql: str, params: Any = None) -> pa.Table: ...


# What reconcile() finds.


@dataclass(frozen=True)
class SourceLine:
    mapping: str
    source_table: str
    target_table: str
    source_rows: int
    loaded: int
    parked: int
    excluded: int

    @property
    def accounted(self) -> int:
        return self.loaded + self.parked + self.excluded

    @property
    def balanced(self) -> bool:
        return self.source_rows == self.accounted

    def discrepancy(self) -> str | None:
        if self.balanced:
            return None
        gap = self.accounted - self.source_rows
        what = f"{-gap} unaccounted for" if gap < 0 else f"{gap} too many"
        return (
            f"{self.mapping} ({self.source_table} -> {self.target_table}): {self.source_rows} "
            f"source rows, but {self.loaded} loaded + {self.parked} parked + {self.excluded} "
            f"excluded = {self.accounted} ({what})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"accounted": self.accounted, "balanced": self.balanced}


@dataclass(frozen=True)
class NumericLine:
    """count, sum, min and max of one numeric column, expected and in the target."""

    column: str
    type: str
    expected: dict[str, Any]
    actual: dict[str, Any]

    def differences(self, table: str) -> list[str]:
        out = []
        for stat in ("count", "sum", "min", "max"):
            e, a = self.expected[stat], self.actual[stat]
            if _same(e, a, self.type == "double" and stat == "sum"):
                continue
            if stat in ("min", "max"):  # one row's value: say that it differs, not what it is
                out.append(
                    f"{table}: {self.column} {stat} differs (a single row's value, not shown)"
                )
            else:
                out.append(f"{table}: {self.column} {stat} expected {_num(e)}, target {_num(a)}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "type": self.type,
            **{f"{s}_{side}": _json(getattr(self, side)[s])
               for s in ("count", "sum") for side in ("expected", "actual")},
            "min_matches": self.expected["min"] == self.actual["min"],
            "max_matches": self.expected["max"] == self.actual["max"],
        }  # fmt: skip


@dataclass(frozen=True)
class CodeCount:
    column: str
    code: str | None
    expected: int
    actual: int


@dataclass
class TableLine:
    table: str
    key: str
    expected_rows: int
    actual_rows: int
    expected_key_hash: int
    actual_key_hash: int
    numeric: list[NumericLine]
    codes: list[CodeCount]  # the top codes of each value-set column, and every differing one
    missing_keys: int = 0
    unexpected_keys: int = 0
    discrepancies: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.discrepancies

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": self.key,
            "balanced": self.balanced,
            "expected_rows": self.expected_rows,
            "actual_rows": self.actual_rows,
            "expected_key_hash": str(self.expected_key_hash),
            "actual_key_hash": str(self.actual_key_hash),
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "numeric": [n.to_dict() for n in self.numeric],
            "codes": [asdict(c) for c in self.codes],
        }


@dataclass
class Reconciliation:
    job_id: str
    balanced: bool
    source_lines: list[SourceLine]
    table_lines: list[TableLine]
    discrepancies: list[str]
    rules: str = RULES

    def totals(self) -> dict[str, int]:
        s, t = self.source_lines, self.table_lines
        return {
            "source_rows": sum(x.source_rows for x in s),
            "loaded": sum(x.loaded for x in s),
            "parked": sum(x.parked for x in s),
            "excluded": sum(x.excluded for x in s),
            "expected_rows": sum(x.expected_rows for x in t),
            "target_rows": sum(x.actual_rows for x in t),
            "discrepancies": len(self.discrepancies),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; keys of rows appear only in the discrepancy lines, and minima and
        maxima (single rows' values) only as whether they match."""
        return {
            "job_id": self.job_id,
            "balanced": self.balanced,
            "rules": self.rules,
            "totals": self.totals(),
            "discrepancies": list(self.discrepancies),
            "source_balance": [s.to_dict() for s in self.source_lines],
            "tables": [t.to_dict() for t in self.table_lines],
        }


def reconcile(
    projection: Projection,
    target: ReadableTarget,
    job_id: str,
    parked: dict[tuple[str, str], int],
    load_parked_keys: set[tuple[str, str]] | None = None,
) -> Reconciliation:
    """Balance every source row and compare every target table of ``job_id``.

    ``parked``: (mapping, source table) -> source rows parked, at projection and at load.
    ``load_parked_keys``: (mapping, source key) of the source rows parked at load.
    """
    con = projection.con
    _expected_views(projection, load_parked_keys or set())
    sources = _source_lines(projection, target, job_id, parked)
    tables = [
        _table_line(con, target, job_id, projection.compiled.model.tables[t])
        for t in projection.compiled.template.targets()
    ]
    discrepancies = [d for s in sources if (d := s.discrepancy())]
    discrepancies += [d for t in tables for d in t.discrepancies]
    return Reconciliation(job_id, not discrepancies, sources, tables, discrepancies)


def expected_view(table: str) -> str:
    return f"_wb_rc_expected_{table}"


def _expected_views(projection: Projection, load_parked: set[tuple[str, str]]) -> None:
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


# Source balance.


def _source_label(cm: CompiledMapping) -> str:
    """What the target's ``_source_table`` says for this mapping's rows."""
    if cm.mapping.is_summary:
        return " + ".join(dict.fromkeys(s.source.table for s in cm.mapping.sections))
    return cm.mapping.source.table


def _source_lines(projection, target, job_id, parked) -> list[SourceLine]:
    con = projection.con
    mappings = projection.compiled.mappings
    groups: dict[tuple[str, str], list[CompiledMapping]] = {}
    for cm in mappings:
        groups.setdefault((cm.table.name, _source_label(cm)), []).append(cm)
    loaded_keys = {
        (t, label): n
        for t in dict.fromkeys(cm.table.name for cm in mappings)
        for label, n in _fetch_rows(
            target,
            f"SELECT _source_table, count(DISTINCT _source_key) AS n FROM {q(t)} "
            f"WHERE _job_id = {sql_string(job_id)} GROUP BY _source_table",
        )
    }
    lines = []
    for cm in mappings:
        group = groups[(cm.table.name, _source_label(cm))]
        if cm.mapping.is_summary or len(group) > 1:
            loaded = _attributed_loads(con, target, job_id, cm, group)
        else:
            loaded = {
                cm.mapping.source.table: loaded_keys.get((cm.table.name, _source_label(cm)), 0)
            }
        excluded = dict(_duck_rows(
            con,
            f"SELECT _source_table, count(DISTINCT _source_key) FROM {q(cm.rows_table)} "
            "WHERE _fate = 'excluded' GROUP BY ALL",
        ))  # fmt: skip
        for source in cm.mapping.source_tables():
            (rows,) = _duck_rows(con, f"SELECT count(*) FROM {q(source)}")[0]
            lines.append(
                SourceLine(
                    cm.name, source, cm.table.name, rows, loaded.get(source, 0),
                    parked.get((cm.name, source), 0), excluded.get(source, 0),
                )
            )  # fmt: skip
    return lines


def _attributed_loads(con, target, job_id, cm, group) -> dict[str, int]:
    """Loaded source rows of a mapping whose target rows cannot be told apart by their
    ``_source_table`` alone (a summary document, or several mappings from one source table
    into one target table): each target row is attributed to the mapping by its key."""
    pk, label = cm.table.primary_key, _source_label(cm)
    lineage = _fetch_into(
        con, target, "_wb_rc_lineage", cm.table, [pk, "_source_key"], pk,
        f"_job_id = {sql_string(job_id)} AND _source_table = {sql_string(label)}",
    )  # fmt: skip
    mine = lineage
    if len(group) > 1:
        mine = (
            f"(SELECT * FROM {lineage} WHERE {q(pk)} IN (SELECT {q(pk)} FROM "
            f"{q(cm.target_rows)} WHERE _fate = 'loaded'))"
        )
    if not cm.mapping.is_summary:
        (n,) = _duck_rows(con, f"SELECT count(DISTINCT _source_key) FROM {mine}")[0]
        return {cm.mapping.source.table: n}
    # A section row is loaded when its patient's document is in the target.
    return dict(_duck_rows(
        con,
        f"SELECT _source_table, count(DISTINCT _source_key) FROM {q(cm.rows_table)} "
        f"WHERE _fate = 'loaded' AND patient_id IN (SELECT _source_key FROM {mine}) GROUP BY ALL",
    ))  # fmt: skip


# Target tables.


def _table_line(con, target, job_id: str, table: TargetTable) -> TableLine:
    numeric = [c for c in table.columns.values() if _is_numeric(c.type)]
    coded = [c.name for c in table.columns.values() if c.value_set]
    where = f"_job_id = {sql_string(job_id)}"
    actual_rel = f"(SELECT * FROM {q(table.name)} WHERE {where}) AS r"
    expected_rel = q(expected_view(table.name))
    exp = _duck_dicts(con, _aggregate_sql(expected_rel, table, numeric, "duckdb"))[0]
    act = _fetch_dicts(target, _aggregate_sql(actual_rel, table, numeric, target.dialect))[0]
    line = TableLine(
        table.name, table.primary_key, exp["n_rows"], act["n_rows"],
        int(exp["key_hash"]), int(act["key_hash"]),
        [NumericLine(c.name, c.type, _stats(exp, i, c.type), _stats(act, i, c.type))
         for i, c in enumerate(numeric)],
        [],
    )  # fmt: skip
    name = table.name
    if line.expected_rows != line.actual_rows:
        line.discrepancies.append(
            f"{name}: rows expected {line.expected_rows}, target {line.actual_rows}"
        )
    if (exp["n_keys"], line.expected_key_hash) != (act["n_keys"], line.actual_key_hash):
        line.discrepancies.append(_key_difference(con, target, job_id, table, line))
    for n in line.numeric:
        line.discrepancies += n.differences(name)
    if coded:
        line.codes = _code_counts(con, target, table, coded, expected_rel, actual_rel)
        line.discrepancies += [
            f"{name}: {c.column} code {_code(c.code)} expected {c.expected}, target {c.actual}"
            for c in line.codes
            if c.expected != c.actual
        ]
    return line


def _is_numeric(model_type: str) -> bool:
    return model_type in NUMERIC_TYPES or model_type.startswith("decimal")


def key_hash_sql(expr: str, dialect: str) -> str:
    """An integer from the first 60 bits of md5(key as text): the same number in DuckDB and
    PostgreSQL, so that sum() over a key set is an order-independent digest of it."""
    if dialect == "postgresql":
        return f"('x' || lpad(substr(md5(CAST({expr} AS TEXT)), 1, 15), 16, '0'))::bit(64)::bigint"
    return f"CAST('0x' || substr(md5(CAST({expr} AS VARCHAR)), 1, 15) AS BIGINT)"


def _aggregate_sql(relation: str, table: TargetTable, numeric, dialect: str) -> str:
    pk = q(table.primary_key)
    items = [
        "count(*) AS n_rows",
        f"count({pk}) AS n_keys",
        f"CAST(coalesce(sum({key_hash_sql(pk, dialect)}), 0) AS TEXT) AS key_hash",
    ]
    for i, c in enumerate(numeric):
        col = q(c.name)
        exact_text = c.type != "double"  # big integer and decimal sums travel as text
        total = f"CAST(sum({col}) AS TEXT)" if exact_text else f"sum({col})"
        extreme = "CAST({}({}) AS TEXT)" if c.type.startswith("decimal") else "{}({})"
        items += [
            f"count({col}) AS c{i}_count",
            f"{total} AS c{i}_sum",
            f"{extreme.format('min', col)} AS c{i}_min",
            f"{extreme.format('max', col)} AS c{i}_max",
        ]
    return f"SELECT {', '.join(items)} FROM {relation}"


def _stats(row: dict[str, Any], i: int, model_type: str) -> dict[str, Any]:
    out = {s: row[f"c{i}_{s}"] for s in ("count", "sum", "min", "max")}
    parse = Decimal if model_type.startswith("decimal") else int
    if model_type != "double":
        out["sum"] = parse(out["sum"]) if out["sum"] is not None else None
    if model_type.startswith("decimal"):
        out["min"], out["max"] = (Decimal(v) if v is not None else None
                                  for v in (out["min"], out["max"]))  # fmt: skip
    return out


def _code_counts(con, target, table, coded, expected_rel, actual_rel) -> list[CodeCount]:
    def sql(relation: str) -> str:
        return " UNION ALL ".join(
            f"SELECT {sql_string(c)} AS col, CAST({q(c)} AS TEXT) AS code, count(*) AS n "
            f"FROM {relation} GROUP BY 1, 2"
            for c in coded
        )

    exp = {(c, code): n for c, code, n in _duck_rows(con, sql(expected_rel))}
    act = {(c, code): n for c, code, n in _fetch_rows(target, sql(actual_rel))}
    out = []
    for column in coded:
        codes = {k[1] for k in (*exp, *act) if k[0] == column}
        ranked = sorted(codes, key=lambda c: (-exp.get((column, c), 0), c is None, c or ""))
        for rank, code in enumerate(ranked):
            e, a = exp.get((column, code), 0), act.get((column, code), 0)
            if rank < TOP_CODES or e != a:
                out.append(CodeCount(column, code, e, a))
    return out


def _key_difference(con, target, job_id: str, table: TargetTable, line: TableLine) -> str:
    """Which keys differ: both key lists joined in DuckDB."""
    actual = _target_relation(con, target, job_id, table, [table.primary_key])
    try:
        keys = compare_relations(con, q(expected_view(table.name)), actual.name,
                                 table.primary_key, [])  # fmt: skip
    finally:
        actual.close()
    line.missing_keys, line.unexpected_keys = keys.left_only, keys.right_only
    text = f"{table.name}: {keys.left_only} keys expected but missing, {keys.right_only} unexpected"
    for what, n, side in (("missing", keys.left_only, "left_only"),
                          ("unexpected", keys.right_only, "right_only")):  # fmt: skip
        if n:
            listed = keys.samples[side]
            first = f"first {len(listed)} of {n} " if n > len(listed) else ""
            text += f"; {first}{what}: {', '.join(str(k) for k in listed)}"
    if not keys.left_only and not keys.right_only:
        text += " (the same keys, but the key hashes differ: a key is held twice)"
    return text


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
            k: [_json(v) for v in keys] for k, keys in self.samples.items()}}  # fmt: skip


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
    _expected_views(projection, load_parked_keys or set())
    spec = projection.compiled.model.tables[table]
    columns = [c for c in spec.columns if c != spec.primary_key] + list(LINEAGE)
    actual = _target_relation(con, target, job_id, spec, [spec.primary_key, *columns])
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
    (n_left,) = _duck_rows(con, f"SELECT count(*) FROM {left_sql}")[0]
    (n_right,) = _duck_rows(con, f"SELECT count(*) FROM {right_sql}")[0]
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
        rows = _duck_rows(
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
    (bounds,) = _duck_rows(
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


def _target_relation(con, target, job_id: str, table: TargetTable, columns: list[str]):
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
    name = _fetch_into(con, target, f"_wb_rc_actual_{table.name}", table, columns,
                       table.primary_key, where)  # fmt: skip
    return _Relation(con, name)


def _typed(table: TargetTable, columns: list[str]) -> str:
    return ", ".join(
        f"CAST({q(c)} AS {duckdb_type(table.columns[c].type) if c in table.columns else 'VARCHAR'})"
        f" AS {q(c)}"
        for c in columns
    )


def _fetch_into(con, target, name, table: TargetTable, columns, key, where) -> str:
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


def _duck_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _duck_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _fetch_dicts(target: ReadableTarget, sql: str) -> list[dict[str, Any]]:
    table = target.fetch(sql)
    return table.rename_columns([c.lower() for c in table.column_names]).to_pylist()


def _fetch_rows(target: ReadableTarget, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in _fetch_dicts(target, sql)]


def _same(a: Any, b: Any, approximate: bool) -> bool:
    if a is None or b is None or not approximate:
        return a == b
    return math.isclose(a, b, rel_tol=DOUBLE_SUM_TOLERANCE, abs_tol=DOUBLE_SUM_TOLERANCE)


def _num(value: Any) -> str:
    if value is None:
        return "NULL"
    return repr(value) if isinstance(value, float) else str(value)


def _code(code: str | None) -> str:
    return "NULL" if code is None else repr(code)


def _json(value: Any) -> Any:
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
