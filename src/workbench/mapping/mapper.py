"""The mapper: draft one mapping (a source table to a target table) field by field, preview
what it does to the snapshot, and save it as a template draft.

The notebook ``03_map.ipynb`` is a thin pane over this module. A draft starts from the
chosen template's mapping for the same source and target when there is one; otherwise from
suggestions: SME annotations in the data migration map, then source columns whose names
resemble the target column's.

Preview compiles a template built in memory. A draft that fills a reference column (e.g.
``patient_id``) needs the parent table's rows for its ``references:`` rule, so the preview
includes the base template's mappings for the parent tables (and the lookups they join):
orphans park exactly as they would in a real run. A parent that no base mapping loads cannot
be checked; its ``references:`` rule is left out of the preview and ``Preview.unchecked``
says so. Save writes the base template with the draft's mapping replaced (or added), renamed
to the draft's name, through ``versions.save_draft`` (which checks the role and audits).
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

from workbench.errors import MappingError, SnapshotError, WorkbenchError
from workbench.mapping import versions, workflow
from workbench.mapping.compile import compile_template
from workbench.mapping.expressions import columns_read
from workbench.mapping.mapper_pane import MapperPane as MapperPane  # re-export
from workbench.mapping.projection import project
from workbench.mapping.template import parse_template
from workbench.profile.annotations import Annotation, read_annotations
from workbench.snapshot.staging import quote_ident as q
from workbench.snapshot.store import Snapshot, open_snapshot
from workbench.target.model import TargetModel, TargetTable, find_model
from workbench.workspace import Workspace

PREVIEW_ROWS = 20
MAP_NAME = "data-migration-map.xlsx"

# Legacy column names that mean a target column, beyond what name similarity finds.
SYNONYMS = {
    "family_name": ("lastname", "lname", "surname", "familyname"),
    "given_name": ("firstname", "fname", "givenname"),
    "middle_name": ("mi", "middleinitial", "middlename"),
    "birth_date": ("dob", "birthdate", "dateofbirth", "birthdt"),
    "gender": ("sex", "gender"),
    "postal_code": ("zip", "zipcode", "postcode"),
    "address_line": ("address", "address1", "addr1", "street"),
    "phone": ("homephone", "phone", "telephone", "phonenumber"),
}
NAME_FLOOR = 0.75  # below this a name match is not offered


@dataclass
class FieldDraft:
    column: str
    type: str
    required: bool
    value_set: str  # "" or a description of the allowed codes
    expr: str  # "" leaves the column empty
    origin: str = ""  # template | annotation | name | ""
    suggestions: list[str] = field(default_factory=list)
    rationale: str | None = None
    reads: list[str] | None = None  # the base field's declared "from"
    by_variants: list[str] = field(default_factory=list)  # variants that set it instead


@dataclass
class Draft:
    source_table: str
    target_table: str
    name: str  # the mapping's name
    key: str
    fields: list[FieldDraft]
    base: dict[str, Any] | None = None  # the base template's mapping, as plain data
    notes: list[str] = field(default_factory=list)

    def field(self, column: str) -> FieldDraft:
        return next(f for f in self.fields if f.column == column)

    def set(self, column: str, expr: str) -> None:
        f = self.field(column)
        if expr.strip() != f.expr:
            f.expr, f.origin, f.rationale, f.reads = expr.strip(), "edited", None, None

    def expressions(self) -> dict[str, str]:
        return {f.column: f.expr for f in self.fields if f.expr}


@dataclass(frozen=True)
class Seed:
    """What the SMEs typed into the map for one source table and one target table."""

    fields: dict[str, str]  # target column -> expression
    rationales: dict[str, str]  # target column -> why, from the SMEs' notes
    skipped: list[str]  # source columns marked skip
    summary: list[str]  # source columns marked for the summary document
    unplaced: list[str]  # annotations whose target the draft cannot place


@dataclass(frozen=True)
class Preview:
    yaml: str
    rows: pl.DataFrame  # the first target rows, with fate and rule
    fields: pl.DataFrame  # per target column: rows, nulls, failed parses
    fates: pl.DataFrame  # source rows per fate and rule
    included: list[str]  # parent mappings taken from the base template
    unchecked: list[str]  # references: rules left out (no mapping loads the parent)


def snapshot_or_synthetic(ws: Workspace, name: str, people: int = 300) -> Snapshot:
    """The workspace's snapshot ``name``; if it was never taken (a fresh clone without
    ``make demo``), a small synthetic clinic of the style the name says (demo-STYLE-N-sSEED)
    acquired under that name outside the workspace, in a cache under the system's temporary
    folder. Generation is seeded, so the cache is rebuilt identically if it is removed; a
    kernel that is killed cannot leave half of one behind."""
    try:
        return open_snapshot(ws.snapshots_dir, name)
    except SnapshotError:
        pass
    import os
    import shutil
    import tempfile

    cache = Path(tempfile.gettempdir()) / "workbench-mapper" / f"{name}-{people}"
    if not (cache / "snapshots" / name).is_dir():
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
        try:
            _synthesize(partial, name, people)
            os.rename(partial / "ws", cache)  # atomic; fails if another run got there first
        except OSError as e:
            if not (cache / "snapshots" / name).is_dir():
                raise SnapshotError(f"{cache}: cannot cache a synthetic snapshot: {e}") from None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return open_snapshot(cache / "snapshots", name)


def _synthesize(root: Path, name: str, people: int) -> None:
    from workbench import workspace
    from workbench.snapshot import acquire
    from workbench.sources import from_config
    from workbench.synth import generate

    found = re.fullmatch(r"demo-([a-z]+)-\d+-s(\d+)", name)
    style, seed = (found[1], int(found[2])) if found else ("ohm", 42)
    generate(style=style, people=people, seed=seed, fmt="mysqldump", out=root / "data")
    scratch = workspace.init(root / "ws", name="synthetic")
    dump = str(root / "data" / f"{style}.sql")
    source = from_config("synthetic", {"kind": "mysqldump", "path": dump}, scratch)
    acquire(source, scratch.snapshots_dir, name)


class Mapper:
    """Drafts, previews and saves mappings from one snapshot against one base template."""

    def __init__(
        self,
        ws: Workspace,
        snapshot: Snapshot,
        template: str | None = "ohm",
        *,
        map_xlsx: Path | None = None,
    ) -> None:
        self.ws, self.snapshot = ws, snapshot
        self.base = workflow.load(ws, template) if template else None
        self.model: TargetModel = self.base.model if self.base else find_model(ws.mappings_dir)
        with snapshot.connect() as con:
            self.columns = workflow.source_columns(con)
        default_map = ws.reports_dir / snapshot.name / MAP_NAME
        self.map_xlsx = map_xlsx or (default_map if default_map.is_file() else None)
        self._annotations: list[Annotation] | None = None

    def source_tables(self) -> list[str]:
        return sorted(self.columns)

    def target_tables(self) -> list[str]:
        return [t.name for t in self.model.load_order() if not t.reference]

    def annotations(self) -> list[Annotation]:
        if self._annotations is None:
            self._annotations = read_annotations(self.map_xlsx) if self.map_xlsx else []
        return self._annotations

    def draft(self, source_table: str, target_table: str) -> Draft:
        """A draft of ``source_table`` -> ``target_table``: the base template's mapping if it
        has one, else suggestions (annotations first, then column names)."""
        source_table, table = self._source(source_table), self.model.table(target_table)
        base = self._base_mapping(source_table, table.name)
        raw = self._raw(base.index) if base else None
        common = {f.name: f for f in base.fields} if base else {}
        variants: dict[str, list[str]] = {}
        for v in base.variants if base else ():
            for f in v.fields:
                variants.setdefault(f.name, []).append(v.name)
        seed, notes = None, []
        try:
            seed = self.seed(source_table, table.name) if self.map_xlsx else None
        except WorkbenchError as e:  # a map the SMEs broke must not stop the mapper
            notes.append(f"annotations not read: {e}")
        key = base.key if base and base.key else self._guess_key(source_table)
        named = self._suggestions(table, source_table, key)
        fields = []
        for col in table.columns.values():
            fd = FieldDraft(
                col.name,
                col.type,
                col.name in table.required,
                _value_set(self.model, col.value_set),
                "",
            )
            options = list(named.get(col.name, []))
            if seed and col.name in seed.fields:
                options.insert(0, seed.fields[col.name])
            if col.name in common:
                f = common[col.name]
                fd.expr, fd.origin, fd.rationale = f.expr, "template", f.rationale
                fd.reads = list(f.reads) if f.reads else None
                options.insert(0, f.expr)
            elif col.name in variants:
                fd.by_variants = variants[col.name]
            elif seed and col.name in seed.fields:
                fd.expr, fd.origin = seed.fields[col.name], "annotation"
                fd.rationale = seed.rationales.get(col.name)
            elif options:
                fd.expr, fd.origin = options[0], "name"
            fd.suggestions = list(dict.fromkeys(options))
            fields.append(fd)
        name = base.name if base else _mapping_name(self.base, table.name, source_table)
        if base and self.base:
            notes.insert(0, f"from template {self.base.ref}: mapping {base.name}")
        if seed:
            notes += [f"SMEs marked skip: {', '.join(seed.skipped)}"] if seed.skipped else []
            notes += [f"not placed: {u}" for u in seed.unplaced]
        return Draft(source_table, table.name, name, key or "", fields, raw, notes)

    def seed(self, source_table: str, target_table: str) -> Seed:
        if self.map_xlsx is None:
            raise MappingError(f"no {MAP_NAME} for snapshot {self.snapshot.name}: profile it")
        return seed_from_annotations(
            self.map_xlsx, source_table, target_table, self.model, annotations=self.annotations()
        )

    def preview(self, draft: Draft, limit: int = PREVIEW_ROWS) -> Preview:
        """Compile the draft (with the parent mappings it needs) and project it over the
        snapshot; nothing is written anywhere."""
        parents, unchecked = self._parents(draft)
        text = self._preview_text(draft, parents)
        template = parse_template(text, Path(f"{draft.name} (mapper draft)"))
        model = _without_references(self.model, unchecked)
        paths = {n: r.path for n, r in self.base.crosswalks.items()} if self.base else {}
        with self.snapshot.connect() as con:
            compiled = compile_template(template, model, paths, self.columns)
            projection = project(con, compiled)
            cm = compiled.mapping(draft.name)
            rows, counts = _rows(con, cm, limit), _null_counts(con, cm)
            fates = projection.fates().filter(pl.col("mapping") == draft.name)
            # Last: field_checks() leaves its final result unfetched (fetchone), and DuckDB
            # refuses a new query on a connection with an unfinished result.
            checks = projection.field_checks()
        failed = _failed(checks, draft.name)
        fields = counts.join(failed, on="field", how="left").with_columns(
            pl.col("failed_parses").fill_null(0)
        )
        return Preview(
            text,
            rows,
            fields,
            fates.drop("mapping"),
            [m["name"] for m in parents],
            [f"references:{c}" for c, _ in unchecked],
        )

    def template_text(self, draft: Draft, name: str) -> str:
        """The draft as a whole template ``name``: the base template with the draft's mapping
        replaced or added (its comments kept), or a one-mapping template without a base."""
        if self.base is None:
            doc: Any = CommentedMap(
                template=name,
                title=f"{name} (drafted in the mapper)",
                target=self.model.name,
                rationale="Drafted in the mapper; review every field before publishing.",
                mappings=[_mapping_data(draft)],
            )
        else:
            doc = _yaml().load(self.base.resolved.path.read_text(encoding="utf-8"))
            doc["template"] = name
            names = [m.get("name", m["target"]) for m in doc["mappings"]]
            if draft.name in names:
                # Only what the mapper edits changes; every other line stays as written.
                edited = doc["mappings"][names.index(draft.name)]
                if edited.get("key") != draft.key:
                    edited["key"] = draft.key
                edited["fields"] = _fields_data(draft, edited.get("fields"))
            else:
                doc["mappings"].append(_mapping_data(draft))
        text = _dump(doc)
        parse_template(text, self.ws.mappings_dir / "templates" / f"{name}.yaml")
        return text

    def save(self, draft: Draft, name: str) -> Path:
        """Write ``mappings/templates/NAME.yaml``; PermissionDenied unless the role may edit."""
        return versions.save_draft(self.ws, name, self.template_text(draft, name))

    # --- helpers -------------------------------------------------------------------------

    def _source(self, name: str) -> str:
        by_lower = {t.lower(): t for t in self.columns}
        if name.lower() not in by_lower:
            raise MappingError(
                f"snapshot {self.snapshot.name} has no table {name!r} "
                f"(tables: {', '.join(self.source_tables())})"
            )
        return by_lower[name.lower()]

    def _base_mapping(self, source_table: str, target: str):
        if self.base is None:
            return None
        for m in self.base.template.mappings:
            if m.target == target and m.source and m.source.table.lower() == source_table.lower():
                return m
        return None

    def _raw(self, index: int) -> dict[str, Any]:
        assert self.base is not None and self.base.template.doc is not None
        return self.base.template.doc.data()["mappings"][index]

    def _suggestions(self, table: TargetTable, source: str, key: str | None) -> dict:
        """Name-based suggestions, plus a key built from the source key and, for a reference
        to a parent table, the base template's expression for the parent's key when this
        source has the columns it reads (e.g. ``'ohm-' || EMP_ID`` for patient_id)."""
        prefix = (self.base.template.source_system if self.base else "") or "legacy"
        found = suggest_expressions(table, self.model, self.columns[source], prefix)
        if key:
            found.setdefault(table.primary_key, []).append(f"'{prefix}-{source.lower()}-' || {key}")
        have = {c.lower() for c in self.columns[source]}
        for m in self.base.template.mappings if self.base else ():
            parent = self.model.tables[m.target]
            refs = [
                c for c, p, pc in table.foreign_keys if p == m.target and pc == parent.primary_key
            ]
            own = next((f for f in m.fields if f.name == parent.primary_key), None)
            reads = columns_read(own.expr, None) if own and m.source and not m.source.alias else ()
            if refs and reads and all(r.lower() in have for r in reads):
                for col in refs:
                    found.setdefault(col, []).insert(0, own.expr)
        return found

    def _guess_key(self, table: str) -> str | None:
        """The first column (ID-like names first) that is unique and never null."""
        cols = sorted(self.columns[table], key=lambda c: not c.lower().endswith("id"))
        probes = ", ".join(
            f"count(DISTINCT {q(c)}) = count(*) AND count({q(c)}) = count(*)" for c in cols
        )
        with self.snapshot.connect() as con:
            unique = con.execute(f"SELECT {probes} FROM {q(table)}").fetchall()[0]
        return next((c for c, ok in zip(cols, unique, strict=True) if ok), None)

    def _parents(self, draft: Draft) -> tuple[list[dict], list[tuple[str, str]]]:
        """Base mappings loading the tables the draft (transitively) refers to, and the
        (column, parent) references no base mapping can satisfy."""
        included: list[dict] = []
        unchecked: list[tuple[str, str]] = []
        todo = [(draft.target_table, set(draft.expressions()))]
        done = {draft.target_table}
        while todo:
            table, filled = todo.pop()
            for col, parent, _ in self.model.tables[table].foreign_keys:
                if col not in filled or self.model.tables[parent].reference or parent in done:
                    continue
                done.add(parent)
                found = (
                    [m for m in self.base.template.mappings if m.target == parent]
                    if self.base
                    else []
                )
                if not found:
                    unchecked.append((col, parent))
                for m in found:
                    included.append(self._raw(m.index) | {"name": m.name})
                    todo.append((parent, {f.name for f in m.all_fields()}))
        return included, unchecked

    def _preview_text(self, draft: Draft, parents: list[dict]) -> str:
        mappings = [*parents, _mapping_data(draft)]
        joined = {j.get("lookup") for m in mappings for j in _joins(m)}
        doc: dict[str, Any] = {"template": "mapper-preview", "target": self.model.name}
        if self.base:
            t = self.base.template
            doc["crosswalks"] = list(t.crosswalks)
            lookups = {
                lk.name: {"sql": LiteralScalarString(lk.sql), "rationale": lk.rationale}
                for lk in t.lookups
                if lk.name in joined
            }
            if lookups:
                doc["lookups"] = lookups
        doc["mappings"] = mappings
        return _dump(doc)


def _joins(m: dict) -> list[dict]:
    sources = [m.get("source")] + [s.get("source") for s in m.get("sections", [])]
    return [j for s in sources if isinstance(s, dict) for j in s.get("joins", [])]


def _mapping_name(base, target: str, source: str) -> str:
    taken = {m.name for m in base.template.mappings} if base else set()
    name = target if target not in taken else f"{target}_{source}"
    return re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "draft"


def _mapping_data(draft: Draft) -> CommentedMap:
    base = draft.base or {}
    m = CommentedMap(name=draft.name, target=draft.target_table)
    if "disposition" in base:
        m["disposition"] = base["disposition"]
    m["source"] = base.get("source", draft.source_table)
    m["key"] = draft.key
    m["rationale"] = base.get(
        "rationale", f"Drafted in the mapper from {draft.source_table} to {draft.target_table}."
    )
    for k in ("filters", "dedupe"):
        if k in base:
            m[k] = base[k]
    m["fields"] = _fields_data(draft)
    for k in ("checks", "variants"):
        if k in base:
            m[k] = base[k]
    return m


def _fields_data(draft: Draft, written: dict | None = None) -> CommentedMap:
    """The draft's fields; a field whose expression is unchanged keeps its written form."""
    fields = CommentedMap()
    for f in draft.fields:
        if not f.expr:
            continue
        was = (written or {}).get(f.column)
        if was is not None and (was if isinstance(was, str) else was.get("expr")) == f.expr:
            fields[f.column] = was
            continue
        spec = CommentedMap(expr=f.expr)
        if f.reads:
            spec["from"] = f.reads
        if f.rationale and len(f.rationale.strip()) >= 3:
            spec["rationale"] = f.rationale.strip()
        spec.fa.set_flow_style()
        fields[f.column] = spec
    return fields


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # one field per line, as templates are written
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dump(doc: Any) -> str:
    buffer = io.StringIO()
    _yaml().dump(doc, buffer)
    return buffer.getvalue()


def _value_set(model: TargetModel, name: str | None) -> str:
    if not name:
        return ""
    vs = model.value_sets[name]
    return f"{name}: {', '.join(vs.codes)}" if vs.codes is not None else name


def _without_references(model: TargetModel, unchecked: list[tuple[str, str]]) -> TargetModel:
    if not unchecked:
        return model
    tables = dict(model.tables)
    for col, _ in unchecked:
        for name, t in tables.items():
            if col in t.columns and t.columns[col].references:
                cols = dict(t.columns)
                cols[col] = dataclasses.replace(cols[col], references=None)
                tables[name] = dataclasses.replace(t, columns=cols)
    return dataclasses.replace(model, tables=tables)


def _rows(con, cm, limit: int) -> pl.DataFrame:
    variant = "_variant AS variant, " if cm.mapping.variants else ""
    cols = ", ".join(q(c) for c in cm.columns)
    return con.sql(
        f"SELECT _source_key AS source_key, {variant}_fate AS fate, _rule AS rule, {cols} "
        f"FROM {q(cm.rows_table)} ORDER BY try_cast(_source_key AS BIGINT) NULLS LAST, "
        f"_source_key, _variant NULLS FIRST LIMIT {int(limit)}"
    ).pl()


def _null_counts(con, cm) -> pl.DataFrame:
    """Per target column, over the target rows not excluded: how many, how many NULL."""
    counts = ", ".join(f"count(*) FILTER (WHERE {q(c)} IS NULL)" for c in cm.columns)
    found = con.execute(
        f"SELECT count(*), {counts} FROM {q(cm.rows_table)} WHERE _fate <> 'excluded'"
    ).fetchall()[0]  # fetched to the end: the connection is used again right after
    return pl.DataFrame(
        {"field": cm.columns, "rows": [found[0]] * len(cm.columns), "nulls": list(found[1:])},
        schema={"field": pl.Utf8, "rows": pl.Int64, "nulls": pl.Int64},
    )


def _failed(checks: pl.DataFrame, mapping: str) -> pl.DataFrame:
    schema = {"field": pl.Utf8, "check": pl.Utf8, "failed_parses": pl.Int64}
    if checks.is_empty():
        return pl.DataFrame(schema=schema)
    mine = checks.filter(pl.col("mapping") == mapping).select(
        "field", check="kind", failed_parses="failed"
    )
    return mine.cast(schema)  # type: ignore[arg-type]


# --- suggestions ---------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def name_score(target: str, source: str) -> float:
    """How much a source column's name looks like a target column's (1.0: the same)."""
    t, s = _norm(target), _norm(source)
    if s in SYNONYMS.get(target, ()) or t == s:
        return 1.0
    return difflib.SequenceMatcher(None, t, s).ratio()


def wrap(table: TargetTable, column: str, source_sql: str) -> str:
    """The usual transform from a legacy text column to a target column of this type."""
    col = table.columns[column]
    if col.type == "date":
        return (
            f"parse_past_date({source_sql})" if "birth" in column else f"parse_date({source_sql})"
        )
    if col.type == "timestamp":
        return f"CAST(parse_date({source_sql}) AS TIMESTAMP)"
    if col.type in ("integer", "bigint"):
        return f"CAST(parse_number({source_sql}) AS {col.type.upper()})"
    if col.type == "double" or col.decimal:
        return f"parse_number({source_sql})"
    if col.type == "boolean":
        return f"yes_no({source_sql})"
    if column.endswith("_name"):
        return f"normalize_name({source_sql})"
    if "phone" in column:
        return f"normalize_phone({source_sql})"
    return f"trim_text({source_sql})"


def suggest_expressions(
    table: TargetTable, model: TargetModel, source_columns: list[str], prefix: str
) -> dict[str, list[str]]:
    """Per target column, expressions over similarly named source columns, best first; a
    local value set adds a map_value() keyed by the codes' first letters when they differ."""
    found: dict[str, list[str]] = {}
    for col in table.columns.values():
        ranked = sorted(((name_score(col.name, s), s) for s in source_columns), key=lambda p: -p[0])
        exprs = []
        for score, source in ranked:
            if score < NAME_FLOOR:
                break
            ident = source if re.fullmatch(r"[A-Za-z_]\w*", source) else q(source)
            if col.name == table.primary_key:
                exprs.append(f"'{prefix}-' || {ident}")
            else:
                exprs.append(wrap(table, col.name, ident))
                codes = model.value_sets[col.value_set].codes if col.value_set else None
                if codes and len({c[0].upper() for c in codes}) == len(codes):
                    pairs = ";".join(f"{c[0].upper()}={c}" for c in codes)
                    exprs.append(f"map_value({ident}, '{pairs}')")
        if exprs:
            found[col.name] = exprs
    return found


def seed_from_annotations(
    map_xlsx_path: Path,
    source_table: str,
    target_table: str,
    model: TargetModel,
    *,
    annotations: list[Annotation] | None = None,
) -> Seed:
    """Draft field expressions from what the SMEs typed into the data migration map: a field
    of ``source_table`` whose Target names a column of ``target_table`` (``ehr.TABLE.COLUMN``
    or ``TABLE.COLUMN``) becomes the usual transform of that field into the column; fields
    marked ``skip`` or ``summary document`` are listed, not mapped."""
    table = model.table(target_table)
    found = read_annotations(map_xlsx_path) if annotations is None else annotations
    fields: dict[str, str] = {}
    rationales: dict[str, str] = {}
    skipped, summary, unplaced = [], [], []
    for a in found:
        if a.field is None or a.table.lower() != source_table.lower():
            continue
        if a.disposition == "skip":
            skipped.append(a.field)
            continue
        if a.disposition == "summary document":
            summary.append(a.field)
            continue
        column = _target_column(a.target, model.name, table.name)
        if column is None:
            if a.target:
                unplaced.append(f"{a.field} -> {a.target} ({a.sheet}!{a.row})")
            continue
        if column not in table.columns:
            unplaced.append(f"{a.field} -> {a.target}: {table.name} has no column {column}")
            continue
        ident = a.field if re.fullmatch(r"[A-Za-z_]\w*", a.field) else q(a.field)
        fields.setdefault(column, wrap(table, column, ident))
        note = f"SMEs: {a.notes}" if a.notes else f"SMEs mapped {a.table}.{a.field} here"
        rationales.setdefault(column, f"{note} (data migration map {a.sheet}!{a.row}).")
    return Seed(fields, rationales, skipped, summary, unplaced)


def _target_column(target: str | None, model: str, table: str) -> str | None:
    """The column of ``table`` an annotation's Target names, if it names one of ``table``."""
    if not target:
        return None
    parts = [p.strip() for p in target.strip().split(".") if p.strip()]
    if parts and parts[0].lower() == model.lower():
        parts = parts[1:]
    if len(parts) == 2 and parts[0].lower() == table.lower():
        return parts[1].lower()
    return None
