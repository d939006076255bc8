"""Compile a template into one DuckDB SQL script.

The script is what runs: `workbench map sql` prints it, the projection executes it. For each
mapping it builds ``_wb_m_<mapping>``: every source row (one per variant) with its target
fields, its fate (loaded, excluded, parked) and the rule that decided it. Mappings run in
the target model's load order, so a child's ``references:`` rule sees its parents' rows.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import MappingError
from workbench.mapping import expressions as ex
from workbench.mapping import summary, transforms
from workbench.mapping.sql import create_table, excluded_case, from_clause
from workbench.mapping.template import Field, Mapping, Template
from workbench.snapshot.staging import quote_ident as q
from workbench.snapshot.staging import sql_string
from workbench.target.model import TargetModel, TargetTable

FATES = ("loaded", "excluded", "parked")


@dataclass(frozen=True)
class FieldCheck:
    """A field whose NULL result from a present input is a failure: a parse or a translation."""

    mapping: str
    field: str
    kind: str  # "parse" | "translate"
    flag: str  # the boolean column in _wb_m_<mapping>
    reads: tuple[str, ...]


@dataclass
class CompiledMapping:
    mapping: Mapping
    model: TargetModel
    columns: list[str]  # target columns the mapping fills
    checks: list[FieldCheck] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.mapping.name

    @property
    def table(self) -> TargetTable:
        return self.model.tables[self.mapping.target]

    @property
    def rows_table(self) -> str:
        return f"_wb_m_{self.name}"

    @property
    def target_rows(self) -> str:
        """The relation holding this mapping's target rows (loaded or not)."""
        return f"_wb_d_{self.name}" if self.mapping.is_summary else self.rows_table


@dataclass
class CompiledTemplate:
    template: Template
    model: TargetModel
    statements: list[tuple[str, str]]  # (comment, sql)
    mappings: list[CompiledMapping]

    def script(self) -> str:
        parts = [f"-- template {self.template.name} -> model {self.model.name}"]
        for comment, sql in self.statements:
            parts.append(f"\n-- {comment}\n{sql}")
        return "\n".join(parts) + "\n"

    def target_view(self, table: str) -> str:
        return f"_wb_target_{table}"

    def mapping(self, name: str) -> CompiledMapping:
        return next(m for m in self.mappings if m.name == name)


def compile_template(
    template: Template,
    model: TargetModel,
    crosswalk_paths: MappingType[str, Path] | None = None,
    source_columns: MappingType[str, list[str]] | None = None,
) -> CompiledTemplate:
    """``source_columns`` (table -> columns of the snapshot) lets the compiler know which
    identifiers are source columns, for failed-parse counting; without it they are guessed."""
    if template.target != model.name:
        raise MappingError(
            f"{template.where('target')}: template targets {template.target!r}, "
            f"the model is {model.name!r}"
        )
    # The crosswalk table first: the xw() macros bind to it when they are created.
    statements = [("crosswalks", _crosswalk_sql(template, crosswalk_paths or {}))]
    statements.append(("transforms", transforms.macro_script()))
    for lk in template.lookups:
        statements.append(
            (f"lookup {lk.name}: {lk.rationale}", create_table(f"_wb_lookup_{lk.name}", lk.sql))
        )
    compiled: list[CompiledMapping] = []
    ordered = _ordered(template, model)
    for i, mapping in enumerate(ordered):
        cm = _compile_mapping(template, model, mapping, source_columns, compiled)
        _check_parents(template, cm, compiled)
        compiled.append(cm)
        statements.extend(_mapping_statements(template, cm, compiled))
        if i + 1 == len(ordered) or ordered[i + 1].target != mapping.target:
            feeding = [c for c in compiled if c.mapping.target == mapping.target]
            view = _target_view(mapping.target, model, feeding)
            statements.append((f"target {mapping.target}: the rows that load", view))
    return CompiledTemplate(template, model, statements, compiled)


def _check_parents(template: Template, cm: CompiledMapping, done: list[CompiledMapping]) -> None:
    loaded = {d.mapping.target for d in done} | {cm.mapping.target}
    for col, parent, _ in cm.table.foreign_keys:
        if col in cm.columns and not cm.model.tables[parent].reference and parent not in loaded:
            raise MappingError(
                f"{template.where('mappings', cm.mapping.index, 'fields', col)}: mapping "
                f"{cm.name} fills {cm.table.name}.{col}, but no mapping loads {parent}"
            )


def _crosswalk_sql(template: Template, paths: MappingType[str, Path]) -> str:
    cols = (
        "source_system, source_code, source_display, target_system, target_code, "
        "target_display, status"
    )
    selects = []
    for ref in template.crosswalks:
        name = ref.split("@")[0]
        if ref not in paths and name not in paths:
            continue
        path = paths.get(ref) or paths[name]
        selects.append(
            f"SELECT {sql_string(name)} AS crosswalk, {cols} FROM read_csv("
            f"{sql_string(str(path))}, header = true, all_varchar = true, quote = '\"')"
        )
    if not selects:
        return transforms.EMPTY_CROSSWALKS
    return create_table("_xw", "\nUNION ALL\n".join(selects))


def _ordered(template: Template, model: TargetModel) -> list[Mapping]:
    order = {t.name: i for i, t in enumerate(model.load_order())}
    for m in template.mappings:
        if m.target not in model.tables:
            raise MappingError(
                f"{template.where('mappings', m.index, 'target')}: mapping {m.name}: "
                f"target table {m.target!r} is not in model {model.name} "
                f"(tables: {', '.join(model.tables)})"
            )
        if model.tables[m.target].reference:
            raise MappingError(
                f"{template.where('mappings', m.index, 'target')}: mapping {m.name}: "
                f"{m.target} is a reference table the tenant provides; a migration does not load it"
            )
    return sorted(template.mappings, key=lambda m: (order[m.target], m.index))


def _compile_mapping(template, model, mapping, source_columns, done) -> CompiledMapping:
    table = model.tables[mapping.target]
    where = ("mappings", mapping.index)
    columns = list(dict.fromkeys(f.name for f in mapping.all_fields()))
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise MappingError(
            f"{template.where(*where, 'fields')}: mapping {mapping.name}: {table.name} has no "
            f"column {unknown[0]!r} (columns: {', '.join(table.columns)})"
        )
    missing = [c for c in table.required if c not in columns]
    if missing:
        raise MappingError(
            f"{template.where(*where, 'fields')}: mapping {mapping.name}: required column "
            f"{table.name}.{missing[0]} has no field"
        )
    cm = CompiledMapping(mapping, model, columns)
    if mapping.is_summary:
        return cm
    known = _known_columns(mapping, source_columns)
    for f in _checked_fields(mapping):
        kind = ex.failure_kind(f.expr)
        if kind:
            reads = f.reads or ex.columns_read(f.expr, known)
            if reads:
                cm.checks.append(FieldCheck(mapping.name, f.name, kind, f"_bad_{f.name}", reads))
    return cm


def _checked_fields(mapping: Mapping) -> list[Field]:
    # A field a variant overrides is checked in its variant form.
    return list({f.name: f for f in mapping.all_fields()}.values())


def _known_columns(mapping, source_columns) -> set[str] | None:
    if source_columns is None:
        return None
    lower = {t.lower(): cols for t, cols in source_columns.items()}
    known: set[str] = set()
    for t in mapping.source_tables():
        known.update(c.lower() for c in lower.get(t.lower(), []))
    if mapping.source:
        for j in mapping.source.joins:
            if j.table:
                known.update(c.lower() for c in lower.get(j.table.lower(), []))
    return known


def _mapping_statements(template, cm: CompiledMapping, done) -> list[tuple[str, str]]:
    m = cm.mapping
    head = f"mapping {m.name}: {', '.join(m.source_tables())} -> {m.target} ({m.disposition})"
    if m.is_summary:
        return summary.statements(head, cm, done)
    return [(head, create_table(cm.rows_table, _discrete_select(cm, done)))]


def _discrete_select(cm: CompiledMapping, done: list[CompiledMapping]) -> str:
    m = cm.mapping
    return "\n".join(
        [
            "WITH base AS MATERIALIZED (",
            _base_select(cm),
            "), kept AS MATERIALIZED (",
            _dedupe_select(m),
            "), expanded AS (",
            _expand_select(cm),
            "), ruled AS (",
            _rules_select(cm, done),
            ")",
            _fate_select(cm),
        ]
    )


def _base_select(cm: CompiledMapping) -> str:
    m = cm.mapping
    items = [f"CAST({m.key} AS VARCHAR) AS _source_key"]
    items.append(excluded_case(m.filters))
    if m.dedupe:
        items += [f"({p}) AS _dd{i}" for i, p in enumerate(m.dedupe.partition_by)]
        items.append(f"({m.dedupe.order_by or 'NULL'}) AS _dd_order")
    items += [f"({f.expr}) AS {q(f.name)}" for f in m.fields]
    for v in m.variants:
        items.append(f"coalesce(({v.when or 'TRUE'}), FALSE) AS {q('_when_' + v.name)}")
        items += [f"({f.expr}) AS {q(f'_v_{v.name}_{f.name}')}" for f in v.fields]
    items += [_flag_sql(c, m) for c in cm.checks if _is_common(c, m)]
    for v in m.variants:
        items += [_flag_sql(c, m, v.name) for c in cm.checks if _in_variant(c, v)]
    return "  SELECT\n    " + ",\n    ".join(items) + "\n  " + from_clause(m.source)


def _is_common(check: FieldCheck, m: Mapping) -> bool:
    return any(f.name == check.field for f in m.fields) and not any(
        f.name == check.field for v in m.variants for f in v.fields
    )


def _in_variant(check: FieldCheck, v) -> bool:
    return any(f.name == check.field for f in v.fields)


def _flag_sql(check: FieldCheck, m: Mapping, variant: str | None = None) -> str:
    fields = {f.name: f for f in m.fields}
    if variant:
        v = next(v for v in m.variants if v.name == variant)
        fields.update({f.name: f for f in v.fields})
    expr = fields[check.field].expr
    present = " OR ".join(f"null_sentinel({c}) IS NOT NULL" for c in check.reads)
    name = check.flag if not variant else f"_v_{variant}_{check.flag}"
    return f"(({expr}) IS NULL AND ({present})) AS {q(name)}"


def _dedupe_select(m: Mapping) -> str:
    if not m.dedupe:
        return "  SELECT * FROM base"
    parts = [f"_dd{i}" for i in range(len(m.dedupe.partition_by))]
    # A row whose partition value is NULL is never anyone's duplicate.
    eligible = " AND ".join(["_excluded_by IS NULL", *(f"{p} IS NOT NULL" for p in parts)])
    rank = (
        f"row_number() OVER (PARTITION BY ({eligible}), {', '.join(parts)} "
        "ORDER BY _dd_order NULLS LAST, _source_key)"
    )
    name = sql_string(m.dedupe.name)
    return (
        f"  SELECT * REPLACE (CASE WHEN _excluded_by IS NULL AND ({eligible}) AND {rank} > 1 "
        f"THEN {name} ELSE _excluded_by END AS _excluded_by) FROM base"
    )


def _expand_select(cm: CompiledMapping) -> str:
    m = cm.mapping
    flags = [c.flag for c in cm.checks]
    if not m.variants:
        cols = ", ".join(q(c) for c in [*cm.columns, *flags])
        return (
            f"  SELECT _source_key, _excluded_by, CAST(NULL AS VARCHAR) AS _variant, 0 AS _vidx, "
            f"{cols} FROM kept"
        )
    selects = []
    for i, v in enumerate(m.variants):
        own = {f.name for f in v.fields}
        cols = [
            f"{q(f'_v_{v.name}_{c}') if c in own else q(c) if _common(m, c) else 'NULL'} AS {q(c)}"
            for c in cm.columns
        ]
        own_flags = {c.flag for c in cm.checks if _in_variant(c, v)}
        cols += [f"{_variant_flag(cm, v, fl, own_flags)} AS {q(fl)}" for fl in flags]
        selects.append(
            f"  SELECT _source_key, _excluded_by, {sql_string(v.name)} AS _variant, {i} AS _vidx, "
            f"{', '.join(cols)} FROM kept WHERE _excluded_by IS NULL AND {q('_when_' + v.name)}"
        )
    nulls = ", ".join(f"NULL AS {q(c)}" for c in cm.columns)
    nulls += "".join(f", FALSE AS {q(fl)}" for fl in flags)
    any_when = " OR ".join(q("_when_" + v.name) for v in m.variants)
    selects.append(
        "  SELECT _source_key, coalesce(_excluded_by, 'no_values') AS _excluded_by, "
        f"NULL AS _variant, -1 AS _vidx, {nulls} FROM kept "
        f"WHERE _excluded_by IS NOT NULL OR NOT ({any_when})"
    )
    return "\n  UNION ALL\n".join(selects)


def _variant_flag(cm: CompiledMapping, v, flag: str, own: set[str]) -> str:
    if flag in own:
        return q(f"_v_{v.name}_{flag}")
    return q(flag) if _common_flag(cm, flag) else "FALSE"


def _common(m: Mapping, column: str) -> bool:
    return any(f.name == column for f in m.fields)


def _common_flag(cm: CompiledMapping, flag: str) -> bool:
    return any(c.flag == flag and _is_common(c, cm.mapping) for c in cm.checks)


def _rules_select(cm: CompiledMapping, done: list[CompiledMapping]) -> str:
    whens = [f"WHEN {q(c)} IS NULL THEN {sql_string('required:' + c)}" for c in cm.table.required]
    whens += [f"WHEN ({r.sql}) IS FALSE THEN {sql_string(r.name)}" for r in cm.mapping.checks]
    for c in cm.columns:
        vs = cm.table.columns[c].value_set
        if vs:
            check = cm.model.value_sets[vs].sql_check(q(c))
            whens.append(f"WHEN {q(c)} IS NOT NULL AND NOT ({check}) THEN 'value_set:{c}'")
    for col, parent, parent_col in cm.table.foreign_keys:
        if col not in cm.columns or parent == cm.table.name:
            continue
        if cm.model.tables[parent].reference:
            continue  # tenant reference rows are checked against the target at load time
        whens.append(
            f"WHEN {q(col)} IS NOT NULL AND {q(col)} NOT IN "
            f"(SELECT {q(parent_col)} FROM {q('_wb_target_' + parent)}) "
            f"THEN 'references:{col}'"
        )
    pk = cm.table.primary_key
    earlier = [d for d in done if d.mapping.target == cm.table.name and d is not cm]
    for d in earlier:
        whens.append(
            f"WHEN {q(pk)} IN (SELECT {q(pk)} FROM {q(d.target_rows)} WHERE _fate = 'loaded') "
            f"THEN 'unique:{pk}'"
        )
    rule = f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS VARCHAR)"
    return f"  SELECT *, CASE WHEN _excluded_by IS NULL THEN {rule} END AS _failed FROM expanded"


def _fate_select(cm: CompiledMapping) -> str:
    pk = q(cm.table.primary_key)
    cols = ", ".join(q(c) for c in cm.columns)
    flags = "".join(f", {q(c.flag)}" for c in cm.checks)
    # A duplicate target key among this mapping's otherwise loadable rows parks the later one.
    unique = (
        f"CASE WHEN _excluded_by IS NULL AND _failed IS NULL AND row_number() OVER "
        f"(PARTITION BY (_excluded_by IS NULL AND _failed IS NULL), {pk} "
        f"ORDER BY _source_key, _vidx) > 1 THEN 'unique:{cm.table.primary_key}' END"
    )
    # A source row with several target rows (variants) is parked whole if any of them is.
    return "\n".join(
        [
            ", unique_checked AS (",
            f"  SELECT *, coalesce(_failed, {unique}) AS _row_rule FROM ruled",
            "), decided AS (",
            "  SELECT *, first_value(_row_rule IGNORE NULLS) OVER "
            "(PARTITION BY _source_key ORDER BY _vidx "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS _source_rule FROM "
            "unique_checked",
            ")",
            f"SELECT {sql_string(cm.name)} AS _mapping, "
            f"{sql_string(cm.mapping.source.table)} AS _source_table, _source_key, _variant, "
            "CASE WHEN _excluded_by IS NOT NULL THEN 'excluded' "
            "WHEN _source_rule IS NOT NULL THEN 'parked' ELSE 'loaded' END AS _fate, "
            "coalesce(_excluded_by, _source_rule) AS _rule, "
            f"{cols}{flags}",
            "FROM decided",
        ]
    )


def _target_view(table: str, model: TargetModel, feeding: list[CompiledMapping]) -> str:
    columns = list(model.tables[table].columns)
    selects = []
    for cm in feeding:
        cols = ", ".join(q(c) if c in cm.columns else f"NULL AS {q(c)}" for c in columns)
        selects.append(
            f"SELECT {cols}, _mapping, _source_table, _source_key FROM {q(cm.target_rows)} "
            "WHERE _fate = 'loaded'"
        )
    body = "\nUNION ALL\n".join(selects)
    return f"CREATE OR REPLACE TEMP VIEW {q('_wb_target_' + table)} AS\n{body};"
