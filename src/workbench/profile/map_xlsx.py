"""``data-migration-map.xlsx``: the profile laid out as a WhiteRabbit-style scan report.

Sheet order: ``Field Overview`` and ``Table Overview`` first, with WhiteRabbit's columns in
WhiteRabbit's order and its blank row after each table's fields, the workbench's own columns
after them and the SME annotation columns last; then ``About`` and ``Relationships``; then one
sheet of value frequencies per table (a value | Frequency pair of columns per field, as
WhiteRabbit writes them), split into ``table (2)``, ``table (3)`` when wider than Excel allows.
Rabbit-in-a-Hat reads it as a scan report: it finds a table's sheet by cutting the table name
at 31 characters and replacing ``/``, which is the sheet name given whenever that is free.

The profile is PHI-safe when it arrives; this module only lays it out, within Excel's limits
(``workbench.render.excel``), streaming rows in xlsxwriter's constant_memory mode.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from workbench.profile.annotations import (
    ANNOTATION_COLUMNS,
    DISPOSITIONS,
    FIELD_OVERVIEW,
    TABLE_OVERVIEW,
)
from workbench.profile.model import ColumnProfile, Profile, TableProfile
from workbench.render.excel import (
    MAX_ROWS,
    LinkBudget,
    SheetNames,
    Styles,
    check_rows,
    finish_sheet,
    is_valid_sheet_name,
    number_or_text,
    split_columns,
)
from workbench.render.excel import write_value as put

ABOUT = "About"
RELATIONSHIPS = "Relationships"
FIXED_SHEETS = (FIELD_OVERVIEW, TABLE_OVERVIEW, ABOUT, RELATIONSHIPS)

# A table sheet keeps a blank column and up to four navigation links right of its fields.
NAV_COLUMNS = 5

Getter = Callable[[ColumnProfile], Any]


def _number(text: str | None, column: ColumnProfile) -> Any:
    if text is None or column.masked:
        return None
    if column.inferred_type not in ("integer", "decimal"):
        return text
    return number_or_text(text)


def _counts(counts: dict[str, int]) -> str:
    return "; ".join(f"{k}: {v:,}" for k, v in counts.items())


# WhiteRabbit's Field Overview after "Table": (header, value, number format).
WHITERABBIT_FIELD_COLUMNS: list[tuple[str, Getter, str | None]] = [
    ("Field", lambda c: c.name, None),
    ("Description", lambda c: "", None),
    ("Type", lambda c: c.inferred_type, None),
    # Rabbit-in-a-Hat parses Max length as a number: never leave it empty.
    ("Max length", lambda c: c.max_length or 0, "count"),
    ("N rows", lambda c: c.n_rows, "count"),
    ("N rows checked", lambda c: c.n_rows, "count"),  # every row is profiled
    ("Fraction empty", lambda c: c.fraction_empty, "fraction"),
    ("N unique values", lambda c: c.n_distinct, "count"),
    ("Fraction unique", lambda c: c.fraction_unique, "fraction"),
    ("Average", lambda c: c.mean, "stat"),
    ("Standard Deviation", lambda c: c.std, "stat"),
    ("Min", lambda c: _number(c.min, c), None),
    ("25%", lambda c: c.q25, None),
    ("Median", lambda c: c.median, None),
    ("75%", lambda c: c.q75, None),
    ("Max", lambda c: _number(c.max, c), None),
]

# The workbench's own columns, after WhiteRabbit's and the "Sheet" lookup.
EXTRA_FIELD_COLUMNS: list[tuple[str, Getter, str | None]] = [
    ("Declared type", lambda c: c.declared_type or "", None),
    ("Storage type", lambda c: c.storage_type, None),
    ("N non-empty", lambda c: c.n_non_empty, "count"),
    ("N null", lambda c: c.n_null, "count"),
    ("N blank", lambda c: c.n_blank, "count"),
    ("Sentinels", lambda c: _counts(c.sentinels), None),
    ("Date formats", lambda c: _counts(c.date_formats), None),
    ("Min length", lambda c: c.min_length, "count"),
    ("Top patterns", lambda c: "; ".join(f"{p.value} ({p.count:,})" for p in c.patterns), None),
    ("Identifier", lambda c: c.identifier_kind or "", None),
    ("Masked", lambda c: "yes" if c.masked else "", None),
    ("Values not shown", lambda c: c.suppressed_values, "count"),
]

FIELD_HEADER = (
    "Table",
    *(h for h, _, _ in WHITERABBIT_FIELD_COLUMNS),
    "Sheet",
    *(h for h, _, _ in EXTRA_FIELD_COLUMNS),
    *ANNOTATION_COLUMNS,
)
WHITERABBIT_TABLE_HEADER = (
    "Table",
    "Description",
    "N rows",
    "N rows checked",
    "N Fields",
    "N Fields Empty",
)
TABLE_HEADER = (
    *WHITERABBIT_TABLE_HEADER,
    "Sheet",
    "Sheets",
    "Candidate keys",
    "Masked fields",
    *ANNOTATION_COLUMNS,
)


@dataclass
class TablePart:
    sheet: str
    fields: range  # indexes into the table's columns
    part: int


@dataclass
class TableLayout:
    table: TableProfile
    parts: list[TablePart]
    overview_row: int  # 0-based row on Table Overview
    first_field_row: int  # 0-based row of its first field on Field Overview

    def locate(self, index: int) -> tuple[TablePart, int]:
        """The sheet holding field ``index`` and the column of its values there."""
        for part in self.parts:
            if index in part.fields:
                return part, 2 * (index - part.fields.start)
        raise IndexError(index)


def write(profile: Profile, path: Path) -> Path:
    """Write ``profile`` as ``data-migration-map.xlsx`` at ``path``; all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layouts, _ = plan(profile)
    partial = path.with_name(f".{path.name}.partial")
    try:
        _write_workbook(profile, layouts, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def plan(profile: Profile) -> tuple[list[TableLayout], SheetNames]:
    """Where every table, part and field goes, decided before the first row is streamed."""
    names = SheetNames(reserved=FIXED_SHEETS)
    first_sheet: dict[int, str] = {}
    # Valid names first, so a table "a_b" keeps its name even when "a/b" comes before it.
    for i in sorted(range(len(profile.tables)), key=lambda i: not _fits(profile.tables[i])):
        first_sheet[i] = names.allocate(profile.tables[i].name)
    layouts, field_row = [], 1
    for i, table in enumerate(profile.tables):
        ranges = split_columns(table.n_columns, per_item=2, reserved=NAV_COLUMNS)
        parts = [
            TablePart(first_sheet[i] if k == 1 else names.allocate(table.name, k), fields, k)
            for k, fields in enumerate(ranges, start=1)
        ]
        layouts.append(TableLayout(table, parts, overview_row=i + 1, first_field_row=field_row))
        if table.n_columns:  # one blank row after each table, as WhiteRabbit separates them
            field_row += table.n_columns + 1
    check_rows(FIELD_OVERVIEW, field_row)
    check_rows(TABLE_OVERVIEW, len(profile.tables) + 1)
    return layouts, names


def _fits(table: TableProfile) -> bool:
    return is_valid_sheet_name(table.name)


def _write_workbook(profile: Profile, layouts: list[TableLayout], path: Path) -> None:
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            # Legacy values are text: never let "=..." become a formula or "http..." a link.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        styles = Styles(workbook)
        links = LinkBudget()
        _field_overview(workbook, styles, links, layouts)
        _table_overview(workbook, styles, links, layouts)
        _about(workbook, styles, links, profile, layouts)
        _relationships(workbook, styles, links, profile.relationships, layouts)
        for layout in layouts:
            for part in layout.parts:
                _table_sheet(workbook, styles, links, layout, part, profile.policy)
    except BaseException:
        with contextlib.suppress(Exception):  # release temp files; the first error is the one
            workbook.close()
        raise
    workbook.close()


def write_header(sheet, styles: Styles, header: tuple[str, ...], widths: dict[str, int]) -> None:
    for col, name in enumerate(header):
        sme = name in ANNOTATION_COLUMNS
        sheet.write_string(0, col, name, styles.input_header if sme else styles.header)
        sheet.set_column(col, col, widths.get(name, 12))
    sheet.freeze_panes(1, 2)


def _annotation_cells(sheet, styles: Styles, last_row: int, first_col: int) -> None:
    """The SME columns: a fill to show where to type, and a dropdown for Disposition."""
    if last_row < 1:
        return
    sheet.data_validation(
        1,
        first_col,
        last_row,
        first_col,
        {
            "validate": "list",
            "source": list(DISPOSITIONS),
            "input_title": "Disposition",
            "input_message": "discrete, summary document or skip",
            "error_title": "Disposition",
            "error_message": "Choose discrete, summary document or skip.",
        },
    )
    sheet.autofilter(0, 0, last_row, first_col + len(ANNOTATION_COLUMNS) - 1)


_FIELD_WIDTHS = {
    "Table": 24,
    "Field": 24,
    "Description": 16,
    "Type": 11,
    "Sheet": 16,
    "Declared type": 16,
    "Storage type": 12,
    "Sentinels": 18,
    "Date formats": 18,
    "Top patterns": 24,
    "Disposition": 18,
    "Target": 28,
    "Notes": 40,
}


def _field_overview(workbook, styles: Styles, links: LinkBudget, layouts) -> None:
    sheet = workbook.add_worksheet(FIELD_OVERVIEW)
    write_header(sheet, styles, FIELD_HEADER, _FIELD_WIDTHS)
    sme_col = FIELD_HEADER.index(ANNOTATION_COLUMNS[0])
    last_row = 0
    for layout in layouts:
        for index, column in enumerate(layout.table.columns):
            row = last_row = layout.first_field_row + index
            part, value_col = layout.locate(index)
            target = xl_rowcol_to_cell(0, value_col)
            links.write(sheet, row, 0, part.sheet, target, layout.table.name)
            col = 1
            for _, value, fmt in WHITERABBIT_FIELD_COLUMNS:
                put(sheet, row, col, value(column), styles.named(fmt))
                col += 1
            put(sheet, row, col, part.sheet)
            col += 1
            for _, value, fmt in EXTRA_FIELD_COLUMNS:
                put(sheet, row, col, value(column), styles.named(fmt))
                col += 1
            for offset in range(len(ANNOTATION_COLUMNS)):
                put(sheet, row, col + offset, None, styles.input)
    _annotation_cells(sheet, styles, last_row, sme_col)
    finish_sheet(sheet)


def _table_overview(workbook, styles: Styles, links: LinkBudget, layouts) -> None:
    sheet = workbook.add_worksheet(TABLE_OVERVIEW)
    write_header(sheet, styles, TABLE_HEADER, {**_FIELD_WIDTHS, "Candidate keys": 24})
    sme_col = TABLE_HEADER.index(ANNOTATION_COLUMNS[0])
    for layout in layouts:
        t, row = layout.table, layout.overview_row
        links.write(sheet, row, 0, layout.parts[0].sheet, "A1", t.name)
        values = [
            (t.description, None),
            (t.n_rows, styles.count),
            (t.n_rows, styles.count),
            (t.n_columns, styles.count),
            (len(t.empty_columns), styles.count),
            (layout.parts[0].sheet, None),
            (len(layout.parts), styles.count),
            ("; ".join("(" + ", ".join(k) + ")" for k in t.candidate_keys), None),
            (sum(c.masked for c in t.columns), styles.count),
            *((None, styles.input) for _ in ANNOTATION_COLUMNS),
        ]
        for col, (value, fmt) in enumerate(values, start=1):
            put(sheet, row, col, value, fmt)
    _annotation_cells(sheet, styles, len(layouts), sme_col)
    finish_sheet(sheet)


def _table_sheet(workbook, styles: Styles, links: LinkBudget, layout, part, policy) -> None:
    """One table's value frequencies, WhiteRabbit style: a value | Frequency column pair per
    field. Each field's header links back to its row on Field Overview."""
    sheet = workbook.add_worksheet(part.sheet)
    sheet.freeze_panes(1, 0)
    columns = [layout.table.columns[i] for i in part.fields]
    listed = [_frequencies(c, policy.min_cell_count) for c in columns]
    for j, (index, column) in enumerate(zip(part.fields, columns, strict=True)):
        back = xl_rowcol_to_cell(layout.first_field_row + index, 1)
        links.write(sheet, 0, 2 * j, FIELD_OVERVIEW, back, column.name, styles.header_link)
        sheet.write_string(0, 2 * j + 1, "Frequency", styles.header)
        sheet.set_column(2 * j, 2 * j, 24)
        sheet.set_column(2 * j + 1, 2 * j + 1, 10)
    _navigation(sheet, styles, links, layout, part, first_col=2 * len(columns) + 1)
    open_lists = [j for j, rows in enumerate(listed) if rows]
    row = 0
    while open_lists:
        for j in open_lists:
            value, count = listed[j][row]
            put(sheet, row + 1, 2 * j, value, styles.note if count is None else None)
            put(sheet, row + 1, 2 * j + 1, count, styles.count)
        row += 1
        open_lists = [j for j in open_lists if row < len(listed[j])]
    finish_sheet(sheet)


def _frequencies(column: ColumnProfile, min_cell_count: int) -> list[tuple[str, int | None]]:
    """The (value, count) rows of one field; notes have no count, so Rabbit-in-a-Hat lists
    them as values, as it does WhiteRabbit's own "List truncated..." row."""
    if column.masked:
        kind = f" ({column.identifier_kind})" if column.identifier_kind else ""
        return [(f"masked: identifier{kind}", None)]
    # The profiler already withholds rare values; checked again here, as the last gate.
    shown = [v for v in column.top_values if v.count >= min_cell_count]
    rare = column.suppressed_values + len(column.top_values) - len(shown)
    rows: list[tuple[str, int | None]] = [(v.value, v.count) for v in shown]
    unlisted = column.n_distinct - len(rows) - rare
    room = MAX_ROWS - 3  # the header row and up to two notes
    if len(rows) > room:
        unlisted, rows = unlisted + len(rows) - room, rows[:room]
    if rare:
        rows.append((f"{_values(rare)} seen < {min_cell_count} times not shown", None))
    if unlisted > 0:
        rows.append((f"{_values(unlisted, 'more ')} not listed", None))
    return rows


def _values(n: int, more: str = "") -> str:
    return f"{n:,} {more}value{'' if n == 1 else 's'}"


def _navigation(sheet, styles: Styles, links: LinkBudget, layout, part, first_col: int) -> None:
    field_row = layout.first_field_row + part.fields.start if part.fields else 0
    targets = [
        ("↩ Field Overview", FIELD_OVERVIEW, xl_rowcol_to_cell(field_row, 0)),
        ("↩ Table Overview", TABLE_OVERVIEW, xl_rowcol_to_cell(layout.overview_row, 0)),
    ]
    if part.part > 1:
        previous = layout.parts[part.part - 2].sheet
        targets.append((f"← {previous}", previous, "A1"))
    if part.part < len(layout.parts):
        following = layout.parts[part.part].sheet
        targets.append((f"{following} →", following, "A1"))
    for offset, (text, target, cell) in enumerate(targets):
        links.write(sheet, 0, first_col + offset, target, cell, text, styles.header_link)
        sheet.set_column(first_col + offset, first_col + offset, 20)


def _about(workbook, styles: Styles, links: LinkBudget, profile: Profile, layouts) -> None:
    sheet = workbook.add_worksheet(ABOUT)
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 64)
    sheet.set_column(2, 3, 14)
    policy = profile.policy
    statistics = (
        "approximate: " + "; ".join(profile.approximations)
        if profile.approximations
        else "exact: computed over every row of every table"
    )
    masked = "no: shown, internal use only" if policy.show_identifiers else "yes"
    facts = [
        ("Snapshot", profile.snapshot),
        ("Fingerprint", profile.fingerprint),
        ("Workbench version", profile.tool_version),
        ("Profile schema version", profile.schema_version),
        ("Statistics", statistics),
        ("Min cell count", policy.min_cell_count),
        ("Identifiers masked", masked),
        ("Tables", len(profile.tables)),
        ("Fields", sum(t.n_columns for t in profile.tables)),
        ("Relationships", len(profile.relationships)),
    ]
    put(sheet, 0, 0, "Data migration map", styles.title)
    for row, (key, value) in enumerate(facts, start=1):
        put(sheet, row, 0, key, styles.key)
        put(sheet, row, 1, value)
    guide_row = len(facts) + 2
    put(sheet, guide_row, 0, "How to read it", styles.key)
    guide = _guide(policy.min_cell_count)
    for offset, line in enumerate(guide, start=1):
        put(sheet, guide_row + offset, 1, line)
    row = guide_row + len(guide) + 2
    for col, name in enumerate(("Sheet", "Table", "Part", "Fields")):
        put(sheet, row, col, name, styles.header)
    for layout in layouts:
        for part in layout.parts:
            row += 1
            links.write(sheet, row, 0, part.sheet, "A1", part.sheet)
            put(sheet, row, 1, layout.table.name)
            put(sheet, row, 2, part.part)
            fields = part.fields
            put(sheet, row, 3, f"{fields.start + 1}–{fields.stop}" if fields else "none")
    finish_sheet(sheet)


def _guide(min_cell_count: int) -> list[str]:
    return [
        "Field Overview and Table Overview carry WhiteRabbit's scan-report columns first, "
        "so Rabbit-in-a-Hat can read them; the workbench's columns follow.",
        "Type is the inferred type; Declared type is what the source declared.",
        "Type in the orange columns: Disposition (discrete, summary document or skip), "
        "Target (e.g. ehr.observation.value) and Notes. "
        "`workbench map annotations FILE` reads them back.",
        f"Values seen fewer than {min_cell_count} times are never shown; identifier columns "
        "show 'masked: identifier' instead of values.",
        "Text longer than an Excel cell holds ends in '…[truncated: N chars]', N being the "
        "original length.",
        "A table whose name is not a valid sheet name gets a shortened sheet name: see the "
        "Sheet column, and the list below.",
        "A table wider than Excel's 16,384 columns continues on 'table (2)', 'table (3)'.",
    ]


_RELATIONSHIP_HEADER = (
    "Child table",
    "Child field",
    "Parent table",
    "Parent field",
    "Coverage",
    "Child rows",
    "Orphan rows",
    "Orphan values",
    "Parent duplicate keys",
)


def _relationships(workbook, styles: Styles, links: LinkBudget, relationships, layouts) -> None:
    """Inferred foreign keys; each table name links to the field's column on its sheet."""
    sheet = workbook.add_worksheet(RELATIONSHIPS)
    write_header(sheet, styles, _RELATIONSHIP_HEADER, {"Child table": 24, "Parent table": 24})
    by_name = {layout.table.name: layout for layout in layouts}
    for row, r in enumerate(relationships, start=1):
        _field_link(sheet, links, row, 0, by_name.get(r.child_table), r.child_table, r.child_column)
        put(sheet, row, 1, r.child_column)
        parent = by_name.get(r.parent_table)
        _field_link(sheet, links, row, 2, parent, r.parent_table, r.parent_column)
        put(sheet, row, 3, r.parent_column)
        put(sheet, row, 4, r.coverage, styles.fraction)
        for col, value in enumerate(
            (r.child_rows, r.orphan_rows, r.orphan_values, r.parent_duplicate_keys), start=5
        ):
            put(sheet, row, col, value, styles.count)
    if not relationships:
        put(sheet, 1, 0, "No relationships were inferred between tables.", styles.note)
    finish_sheet(sheet)


def _field_link(sheet, links: LinkBudget, row, col, layout, table: str, field: str) -> None:
    if layout is None:
        put(sheet, row, col, table)
        return
    names = [c.name for c in layout.table.columns]
    part, value_col = layout.locate(names.index(field)) if field in names else (layout.parts[0], 0)
    links.write(sheet, row, col, part.sheet, xl_rowcol_to_cell(0, value_col), table)
