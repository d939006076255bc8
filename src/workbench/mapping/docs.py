"""The ETL specification: a template as the document a client signs off, in Markdown and in
one self-contained HTML page.

The content is built once, as a list of blocks (headings, paragraphs, tables), and rendered
twice (by ``docs_render``), so the two files always say the same thing. With a projection
over a snapshot the document also counts crosswalk coverage and accounts for every source
row. Values from the data are limited to crosswalk codes and counts: no patient value is
ever shown, and a code the crosswalk does not name is shown only if it was seen at least
``min_cell_count`` times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import CrosswalkError
from workbench.mapping import expressions, transforms
from workbench.mapping.coverage import CodeCoverage, code_coverage
from workbench.mapping.crosswalk import load_crosswalk
from workbench.mapping.docs_render import (
    Block,
    Code,
    CodeBlock,
    Facts,
    Grid,
    Heading,
    Missing,
    Para,
    to_html,
    to_markdown,
)
from workbench.mapping.projection import Projection
from workbench.mapping.template import Field, Mapping, Source, Template
from workbench.mapping.workflow import LoadedTemplate, source_columns
from workbench.render import page
from workbench.render.page import fmt_pct
from workbench.target.model import TargetModel, TargetTable

# --- the document's wording ------------------------------------------------------------------


NO_RATIONALE = Missing("no rationale given")
SUMMARY_FIELDS = (
    "Over the per-patient document: patient_id, entries, first_date, last_date, body_html "
    "and body_markdown."
)


def why(text: str | None) -> object:
    return text.strip() if text and text.strip() else NO_RATIONALE


# --- crosswalk uses: xw('name', <code expression>) in the template's fields --------------------


@dataclass(frozen=True)
class CrosswalkUse:
    crosswalk: str
    mapping: str
    field: str
    table: str
    code_sql: str  # over the source table's own columns (the mapping's alias removed)
    reason: str | None = None  # why coverage cannot be counted over the table alone


def crosswalk_uses(template: Template) -> list[CrosswalkUse]:
    uses = []
    for m in template.mappings:
        if m.is_summary or m.source is None:
            continue
        for f in m.all_fields():
            for name, code in xw_calls(f.expr):
                uses.append(_use(m, f, name, code))
    return uses


_XW = re.compile(r"\bxw\s*\(")


def xw_calls(expr: str) -> list[tuple[str, str]]:
    """(crosswalk name, code expression) of every ``xw('name', code)`` call in ``expr``."""
    found = []
    # Blank out string contents, keeping every position, so 'xw(' inside a literal is skipped.
    masked = re.sub(r"'(?:[^']|'')*'", lambda m: "'" + " " * (len(m[0]) - 2) + "'", expr)
    for match in _XW.finditer(masked):
        args = _arguments(expr, match.end())
        if len(args) == 2 and re.fullmatch(r"'[^']*'", args[0]):
            found.append((args[0][1:-1], args[1]))
    return found


def _arguments(text: str, start: int) -> list[str]:
    """The top-level arguments of the call whose '(' ends just before ``start``."""
    args, depth, quoted, begin = [], 0, False, start
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch in ",)" and depth == 0:
            args.append(text[begin:i].strip())
            begin = i + 1
            if ch == ")":
                return args
    return []


def _use(m: Mapping, f: Field, name: str, code: str) -> CrosswalkUse:
    source = m.source
    assert source is not None
    sql = _unqualified(code, source.alias) if source.alias else code
    joined = {j.alias for j in source.joins}
    qualifiers = set(re.findall(r'"?(\w+)"?\.', expressions.without_strings(sql)))
    reason = "reads a joined table" if qualifiers & joined else None
    return CrosswalkUse(name, m.name, f.name, source.table, sql, reason)


def _unqualified(sql: str, alias: str) -> str:
    pattern = re.compile(rf'(?<![\w."])(?:"{re.escape(alias)}"|\b{re.escape(alias)})\.')
    parts = re.split(r"('(?:[^']|'')*')", sql)  # never touch string literals
    return "".join(p if p.startswith("'") else pattern.sub("", p) for p in parts)


# --- the content -------------------------------------------------------------------------------


def spec_blocks(
    loaded: LoadedTemplate,
    projection: Projection | None = None,
    *,
    snapshot: str | None = None,
    min_cell_count: int = 5,
) -> list[Block]:
    t, model = loaded.template, loaded.model
    known = source_columns(projection.con) if projection else None
    blocks: list[Block] = [*_header(loaded, snapshot), *_lookups(t)]
    for table in model.load_order():
        mappings = [m for m in t.mappings if m.target == table.name]
        if mappings:
            blocks += [Heading(2, f"Target table {table.name} ({table.resource})")]
            blocks += [Para(table.description)] if table.description else []
            for m in mappings:
                blocks += _mapping(m, table, model, known)
    blocks += _transforms()
    blocks += _coverage(loaded, projection, min_cell_count)
    blocks += _accounting(projection) if projection else []
    return blocks


def _header(loaded: LoadedTemplate, snapshot: str | None) -> list[Block]:
    t, r, model = loaded.template, loaded.resolved, loaded.model
    facts = [
        ("template", Code(t.name)),
        ("title", t.title or Missing("no title")),
        ("version", r.version or "draft (not published)"),
        ("sha256", Code(r.sha256)),
        ("source system", t.source_system or Missing("not named")),
        ("target model", f"{model.name} {model.version}: {model.title}"),
        ("target model sha256", Code(model.sha256)),
    ]
    if snapshot:
        facts.append(("counted over snapshot", Code(snapshot)))
    blocks: list[Block] = [Heading(2, "Template"), Facts(facts)]
    blocks += [Para(t.description.strip())] if t.description.strip() else []
    blocks += [Heading(3, "Rationale"), Para(why(t.rationale))]
    rows = []
    for name, res in loaded.crosswalks.items():
        xw = load_crosswalk(res.path)
        counts = xw.status_counts
        rows.append(
            (
                Code(name),
                Code(res.ref),
                res.version or "draft",
                Code(res.sha256),
                xw.target_system,
                counts["approved"],
                counts["unchecked"] + counts["flagged"],
            )
        )
    blocks += [Heading(3, "Crosswalks")]
    headers = (
        "crosswalk",
        "reference",
        "version",
        "sha256",
        "target system",
        "approved",
        "not approved",
    )
    blocks += [Grid(headers, rows, (5, 6))] if rows else [Para("The template uses no crosswalk.")]
    gates = [(Code(k), fmt_pct(v)) for k, v in t.gates.items()]
    blocks += [Heading(3, "Quality gates")]
    blocks += [Grid(("gate", "threshold"), gates, (1,))] if gates else [Para("No gates set.")]
    sign = [(role, "", "", "") for role in ("Client subject-matter expert", "Migration engineer")]
    blocks += [Heading(3, "Sign-off"), Grid(("role", "name", "date", "signature"), sign)]
    return blocks


def _lookups(t: Template) -> list[Block]:
    if not t.lookups:
        return []
    blocks: list[Block] = [Heading(2, "Lookups")]
    for lk in t.lookups:
        blocks += [Heading(3, f"Lookup {lk.name}"), Para(why(lk.rationale)), CodeBlock(lk.sql)]
    return blocks


def _mapping(m: Mapping, table: TargetTable, model: TargetModel, known) -> list[Block]:
    title = f"Mapping {m.name}: {', '.join(m.source_tables()) or '(no source)'} -> {m.target}"
    facts: list[tuple[str, object]] = [("disposition", m.disposition.replace("_", " "))]
    if m.source is not None:
        facts += _source_facts(m.source)
    if m.key:
        facts.append(("key (lineage of every row)", Code(m.key)))
    facts.append(("rationale", why(m.rationale)))
    blocks: list[Block] = [Heading(3, title), Facts(facts)]
    if m.filters:
        rows = [(Code(r.name), Code(r.sql), why(r.rationale)) for r in m.filters]
        blocks += [
            Heading(4, "Filters (matching rows are excluded)"),
            Grid(("filter", "where", "rationale"), rows),
        ]
    if m.dedupe:
        d = m.dedupe
        row = (
            Code(d.name),
            Code(", ".join(d.partition_by)),
            Code(d.order_by or ""),
            why(d.rationale),
        )
        blocks += [
            Heading(4, "Dedupe (the first row per partition is kept)"),
            Grid(("rule", "partition by", "order by", "rationale"), [row]),
        ]
    for i, s in enumerate(m.sections, start=1):
        blocks += _section(i, s)
    reads = _reads_for(m, known)
    blocks.append(Heading(4, "Fields"))
    if m.is_summary:
        blocks.append(Para(SUMMARY_FIELDS))
    blocks.append(_fields_grid(m.fields, table, model, reads))
    for v in m.variants:
        because = v.rationale or f"⚠ {NO_RATIONALE}"
        cap = f"variant {v.name}: when {v.when or 'always'}; {because}"
        blocks.append(_fields_grid(v.fields, table, model, reads, caption=cap))
    filled = {f.name for f in m.all_fields()}
    empty = [c for c in table.columns if c not in filled]
    if empty and not m.is_summary:
        blocks.append(Para(f"Left empty in {table.name}: {', '.join(empty)}."))
    rows = [(Code(r.name), Code(r.sql), why(r.rationale)) for r in m.checks]
    rows += [(Code(rule), "built in", text) for rule, text in _built_in_rules(m, table, model)]
    blocks += [
        Heading(4, "Checks (failing rows are parked)"),
        Grid(("check", "assert", "rationale"), rows),
    ]
    return blocks


def _source_facts(source: Source) -> list[tuple[str, object]]:
    alias = f" AS {source.alias}" if source.alias else ""
    facts: list[tuple[str, object]] = [("source", Code(source.table + alias))]
    for j in source.joins:
        what = f"{j.table}" if j.table else f"lookup {j.lookup}"
        facts.append((f"{j.how} join", Code(f"{what} AS {j.alias} ON {j.on}")))
    return facts


def _section(i: int, s) -> list[Block]:
    facts = [
        ("title", s.title),
        *_source_facts(s.source),
        ("key", Code(s.key)),
        ("patient", Code(s.patient)),
        ("order by", Code(s.order_by or "(source order)")),
        ("rationale", why(s.rationale)),
    ]
    facts += [(f"filter {r.name}", Code(f"{r.sql}  -- {r.rationale or ''}")) for r in s.filters]
    columns = [(h, Code(sql)) for h, sql in s.columns]
    return [
        Heading(4, f"Section {i}: {s.title}"),
        Facts(facts),
        Grid(("document column", "expression"), columns),
    ]


def _reads_for(m: Mapping, known: dict[str, list[str]] | None):
    if known is None:
        return lambda f: f.reads or expressions.columns_read(f.expr, None)
    lower = {t.lower(): cols for t, cols in known.items()}
    tables = m.source_tables() + [j.table for j in (m.source.joins if m.source else ()) if j.table]
    names = {c.lower() for t in tables for c in lower.get(t.lower(), [])}
    return lambda f: f.reads or expressions.columns_read(f.expr, names)


def _fields_grid(fields, table: TargetTable, model: TargetModel, reads, caption=None) -> Grid:
    rows = []
    for f in fields:
        col = table.columns.get(f.name)
        required = "key" if f.name == table.primary_key else "yes" if col and col.required else ""
        rows.append(
            (
                Code(f.name),
                col.type if col else Missing("not in the model"),
                required,
                _value_set(model, col.value_set) if col and col.value_set else "",
                Code(f.expr),
                ", ".join(reads(f)),
                why(f.rationale),
            )
        )
    headers = (
        "target column",
        "type",
        "required",
        "value set",
        "expression",
        "source columns read",
        "rationale",
    )
    return Grid(headers, rows, caption=caption)


def _value_set(model: TargetModel, name: str) -> str:
    vs = model.value_sets[name]
    return f"{name}: {', '.join(vs.codes)}" if vs.codes is not None else f"{name} ({vs.system})"


def _built_in_rules(m: Mapping, table: TargetTable, model: TargetModel) -> list[tuple[str, str]]:
    if m.is_summary:
        return [("references:patient_id", "a section row whose patient is not loaded")]
    filled = {f.name for f in m.all_fields()}
    rules = [(f"required:{c}", f"{c} may not be empty") for c in table.required if c in filled]
    for c in filled & set(table.columns):
        if vs := table.columns[c].value_set:
            rules.append((f"value_set:{c}", f"{c} must be in value set {vs}"))
    for col, parent, parent_col in table.foreign_keys:
        if col in filled and not model.tables[parent].reference and parent != table.name:
            rules.append((f"references:{col}", f"{col} must name a loaded {parent}.{parent_col}"))
    rules.append((f"unique:{table.primary_key}", f"one row per {table.name}.{table.primary_key}"))
    return rules


def _transforms() -> list[Block]:
    rows = [(Code(f"{t.name}({t.params})"), t.doc) for t in transforms.TRANSFORMS]
    return [
        Heading(2, "Transform library"),
        Para("DuckDB macros every expression may call (workbench map sql prints them)."),
        Grid(("transform", "does"), rows),
    ]


def _coverage(loaded: LoadedTemplate, projection, min_cell_count: int) -> list[Block]:
    uses = crosswalk_uses(loaded.template)
    if not uses:
        return []
    blocks: list[Block] = [Heading(2, "Crosswalk coverage")]
    if projection is None:
        blocks.append(Para("Counted only with a snapshot (workbench map docs --snapshot S)."))
    for name in dict.fromkeys(u.crosswalk for u in uses):
        mine = [u for u in uses if u.crosswalk == name]
        rows = [(u.mapping, Code(u.field), u.table, Code(u.code_sql)) for u in mine]
        blocks += [
            Heading(3, f"Crosswalk {name}"),
            Grid(("mapping", "field", "source table", "code expression"), rows),
        ]
        if projection is not None:
            blocks += _counted(loaded, projection, name, mine, min_cell_count)
    return blocks


def _counted(loaded, projection, name: str, uses: list[CrosswalkUse], min_cells: int) -> list:
    res = loaded.crosswalks.get(name)
    if res is None:
        return [Para(Missing(f"{name} is used but not listed in the template's crosswalks"))]
    xw = load_crosswalk(res.path)
    named = {e.code for e in xw.entries}
    blocks: list[Block] = []
    counted: list[CodeCoverage] = []
    for table, code_sql in dict.fromkeys((u.table, u.code_sql) for u in uses if not u.reason):
        try:
            counted.append(code_coverage(projection.con, xw, table, code_sql))
        except CrosswalkError as e:
            blocks.append(Para(Missing(f"not counted: {e}")))
    blocks += [
        Para(Missing(f"{u.mapping}.{u.field} not counted: {u.reason}")) for u in uses if u.reason
    ]
    rows = [
        (
            c.table,
            Code(c.code_sql),
            c.distinct_codes,
            c.distinct_translated,
            fmt_pct(c.distinct_coverage),
            c.rows_with_code,
            c.rows_translated,
            fmt_pct(c.row_coverage),
            c.rows_without_code,
        )
        for c in counted
    ]
    headers = (
        "source table",
        "code expression",
        "distinct codes",
        "codes translated",
        "% codes",
        "rows with a code",
        "rows translated",
        "% rows",
        "rows without a code",
    )
    blocks.insert(0, Grid(headers, rows, tuple(range(2, 9)), caption="coverage"))
    for c in counted:
        shown = [u for u in c.unmapped if u[2] >= min_cells or u[0] in named]
        hidden = [u for u in c.unmapped if u not in shown]
        if not c.unmapped:
            continue
        rows = [(Code(code), display or "", n) for code, display, n in shown]
        caption = f"unmapped codes in {c.table}.{c.code_sql}, most rows first"
        blocks.append(Grid(("code", "display (from the crosswalk)", "rows"), rows, (2,), caption))
        if hidden:
            blocks.append(
                Para(
                    f"{len(hidden)} more unmapped codes, each seen fewer than "
                    f"{min_cells} times ({sum(u[2] for u in hidden)} rows), are not "
                    "shown."
                )
            )
    return blocks


def _accounting(projection: Projection) -> list[Block]:
    acc = projection.accounting()
    cols = ("mapping", "source_table", "source_rows", "loaded", "excluded", "parked", "balanced")
    rows = [
        tuple("yes" if v is True else Missing("NO") if v is False else v for v in r)
        for r in acc.select(cols).iter_rows()
    ]
    fates = projection.fates()
    rules = [r for r in fates.iter_rows(named=True) if r["fate"] != "loaded"]
    blocks: list[Block] = [
        Heading(2, "Accounting"),
        Para(
            "Every source row ends loaded, excluded by a named rule, or parked: "
            "source rows = loaded + excluded + parked."
        ),
        Grid(
            ("mapping", "source table", "source rows", "loaded", "excluded", "parked", "balanced"),
            rows,
            (2, 3, 4, 5),
        ),
        Heading(3, "Excluded and parked rows by rule"),
    ]
    if rules:
        rows = [
            (r["mapping"], r["source_table"], r["fate"], Code(r["rule"] or ""), r["rows"])
            for r in rules
        ]
        blocks.append(Grid(("mapping", "source table", "fate", "rule", "rows"), rows, (4,)))
    else:
        blocks.append(Para("None: every source row loads."))
    return blocks


# --- writing -----------------------------------------------------------------------------------


def write_docs(
    loaded: LoadedTemplate,
    out_dir: Path,
    projection: Projection | None = None,
    *,
    snapshot: str | None = None,
    min_cell_count: int = 5,
) -> dict[str, Path]:
    """Write ``<template>-etl-spec.md`` and ``.html`` into ``out_dir``; each whole or not at
    all. ``snapshot`` names the snapshot the projection ran over, for the header."""
    blocks = spec_blocks(loaded, projection, snapshot=snapshot, min_cell_count=min_cell_count)
    t = loaded.template
    title = f"ETL specification: {t.name}"
    version = loaded.resolved.version or "draft"
    subtitle = f"{t.title} · {version} · model {loaded.model.name} {loaded.model.version}"
    out_dir = Path(out_dir)
    return {
        "markdown": page.write(to_markdown(title, blocks), out_dir / f"{t.name}-etl-spec.md"),
        "html": page.write(to_html(title, blocks, subtitle), out_dir / f"{t.name}-etl-spec.html"),
    }
