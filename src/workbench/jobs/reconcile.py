"""Reconcile a job: does the target hold exactly what the projection said would load?

``reconcile`` checks two things, exactly and set-based, and lists every difference in one line:

- per mapping and source table, source rows = loaded + parked + excluded, where *loaded* is
  read from the target's lineage columns (``_source_table``, ``_source_key``);
- per target table, the expected rows (the projection's loadable rows minus those parked at
  load) against the job's rows in the target: row counts, count/sum/min/max of numeric
  columns, counts per code of value-set columns, and an order-independent hash of the
  primary keys. Each side is aggregated by its own engine; only the aggregates travel.

``row_reconcile`` compares every column of every row of one table with ``compare_relations``:
a full outer join on the key in DuckDB, in key ranges so memory stays bounded. Both live in
``workbench.jobs.compare`` and are importable from here too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.jobs.compare import (
    DUCKDB_TYPES,
    KEYS_LISTED,
    LINEAGE,
    ROW_RULE,
    ReadableTarget,
    RowComparison,
    compare_relations,
    create_expected_views,
    duck_rows,
    duckdb_type,
    expected_view,
    fetch_into,
    json_value,
    row_reconcile,
    target_relation,
)
from workbench.snapshot.staging import quote_ident as q
from workbench.snapshot.staging import sql_string

if TYPE_CHECKING:
    from workbench.mapping.compile import CompiledMapping
    from workbench.mapping.projection import Projection
    from workbench.target.model import TargetTable

__all__ = [
    "DOUBLE_SUM_TOLERANCE", "DUCKDB_TYPES", "KEYS_LISTED", "LINEAGE", "NUMERIC_TYPES",
    "ROW_RULE", "RULES", "TOP_CODES", "CodeCount", "NumericLine", "ReadableTarget",
    "Reconciliation", "RowComparison", "SourceLine", "TableLine", "compare_relations",
    "duckdb_type", "expected_view", "key_hash_sql", "reconcile", "row_reconcile",
]  # fmt: skip

NUMERIC_TYPES = ("integer", "bigint", "double")
TOP_CODES = 20
# Summation order differs between engines (and between runs of a parallel engine), so sums
# of doubles agree only to rounding; counts, minima, maxima and every other sum are exact.
DOUBLE_SUM_TOLERANCE = 1e-9
RULES = (
    "counts, integer and decimal sums, minima, maxima, codes and key hashes are compared "
    f"exactly; sums of doubles within a relative {DOUBLE_SUM_TOLERANCE:g}"
)


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
            **{f"{s}_{side}": json_value(getattr(self, side)[s])
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
    create_expected_views(projection, load_parked_keys or set())
    sources = _source_lines(projection, target, job_id, parked)
    tables = [
        _table_line(con, target, job_id, projection.compiled.model.tables[t])
        for t in projection.compiled.template.targets()
    ]
    discrepancies = [d for s in sources if (d := s.discrepancy())]
    discrepancies += [d for t in tables for d in t.discrepancies]
    return Reconciliation(job_id, not discrepancies, sources, tables, discrepancies)


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
        excluded = dict(duck_rows(
            con,
            f"SELECT _source_table, count(DISTINCT _source_key) FROM {q(cm.rows_table)} "
            "WHERE _fate = 'excluded' GROUP BY ALL",
        ))  # fmt: skip
        for source in cm.mapping.source_tables():
            (rows,) = duck_rows(con, f"SELECT count(*) FROM {q(source)}")[0]
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
    lineage = fetch_into(
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
        (n,) = duck_rows(con, f"SELECT count(DISTINCT _source_key) FROM {mine}")[0]
        return {cm.mapping.source.table: n}
    # A section row is loaded when its patient's document is in the target.
    return dict(duck_rows(
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

    exp = {(c, code): n for c, code, n in duck_rows(con, sql(expected_rel))}
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
    actual = target_relation(con, target, job_id, table, [table.primary_key])
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


# Small helpers.


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
