"""Summary documents: non-essential tables rendered per patient into one document row
(HTML and Markdown), instead of being mapped field by field.

Every section row gets a fate like a discrete row: loaded (it is in its patient's
document), excluded by a named filter, or parked when its patient is not loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.mapping.sql import create_table, excluded_case, from_clause
from workbench.mapping.template import Section
from workbench.snapshot.staging import quote_ident as q
from workbench.snapshot.staging import sql_string

if TYPE_CHECKING:
    from workbench.mapping.compile import CompiledMapping

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1.5em}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "td{white-space:pre-wrap}th{background:#f3f3f3}"
)


def statements(
    head: str, cm: CompiledMapping, done: list[CompiledMapping]
) -> list[tuple[str, str]]:
    return [
        (head + ": one row per section row, with its fate", create_table(cm.rows_table, _rows(cm))),
        (head + ": one document per patient", create_table(f"_wb_d_{cm.name}", _documents(cm))),
    ]


def _section_select(i: int, s: Section) -> str:
    cells = [f"coalesce(html_escape(CAST(({sql}) AS VARCHAR)), '')" for _, sql in s.columns]
    md = [f"coalesce(md_escape(CAST(({sql}) AS VARCHAR)), '')" for _, sql in s.columns]
    html = "'<tr><td>' || " + " || '</td><td>' || ".join(cells) + " || '</td></tr>'"
    markdown = "'| ' || " + " || ' | ' || ".join(md) + " || ' |'"
    order = s.order_by or "NULL"
    return (
        f"  SELECT {sql_string(s.source.table)} AS _source_table, "
        f"CAST(({s.key}) AS VARCHAR) AS _source_key, {i} AS _section, "
        f"CAST(({s.patient}) AS VARCHAR) AS patient_id, {excluded_case(s.filters)}, "
        f"({order}) AS _order, try_cast(({order}) AS DATE) AS _date, "
        f"{html} AS _html, {markdown} AS _md\n  {from_clause(s.source)}"
    )


def _rows(cm: CompiledMapping) -> str:
    m = cm.mapping
    sections = "\n  UNION ALL BY NAME\n".join(
        _section_select(i, s) for i, s in enumerate(m.sections)
    )
    loaded = f"(SELECT patient_id FROM {q('_wb_target_patient')})"
    rule = (
        "CASE WHEN patient_id IS NULL THEN 'required:patient_id' "
        f"WHEN patient_id NOT IN {loaded} THEN 'references:patient_id' END"
    )
    return (
        f"WITH sections AS (\n{sections}\n), ruled AS (\n"
        f"  SELECT *, CASE WHEN _excluded_by IS NULL THEN {rule} END AS _failed FROM sections\n)\n"
        f"SELECT {sql_string(m.name)} AS _mapping, _source_table, _source_key, "
        "CAST(NULL AS VARCHAR) AS _variant, "
        "CASE WHEN _excluded_by IS NOT NULL THEN 'excluded' WHEN _failed IS NOT NULL "
        "THEN 'parked' ELSE 'loaded' END AS _fate, coalesce(_excluded_by, _failed) AS _rule, "
        "patient_id, _section, row_number() OVER (PARTITION BY patient_id, _section "
        "ORDER BY _order NULLS LAST, _source_key) AS _pos, _date, _html, _md\nFROM ruled"
    )


def _headers(cm: CompiledMapping) -> str:
    rows = []
    for i, s in enumerate(cm.mapping.sections):
        names = [n for n, _ in s.columns]
        html = "<tr>" + "".join(f"<th>{_escape(n)}</th>" for n in names) + "</tr>"
        md = "| " + " | ".join(names) + " |\n|" + "---|" * len(names)
        rows.append(f"({i}, {sql_string(s.title)}, {sql_string(html)}, {sql_string(md)})")
    return f"(VALUES {', '.join(rows)}) AS h(_section, title, header_html, header_md)"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _documents(cm: CompiledMapping) -> str:
    m = cm.mapping
    tables = " + ".join(dict.fromkeys(s.source.table for s in m.sections))
    heading = sql_string(f"Historical summary ({tables})")
    fields = ", ".join(f"({f.expr}) AS {q(f.name)}" for f in m.fields)
    nl = "chr(10)"
    return f"""WITH per_section AS (
  SELECT patient_id, _section, string_agg(_html, '' ORDER BY _pos) AS html_rows,
    string_agg(_md, {nl} ORDER BY _pos) AS md_rows, count(*) AS n,
    min(_date) AS first_date, max(_date) AS last_date
  FROM {q(cm.rows_table)} WHERE _fate = 'loaded' GROUP BY patient_id, _section
), per_patient AS (
  SELECT patient_id,
    string_agg('<h2>' || html_escape(title) || '</h2><table><thead>' || header_html
      || '</thead><tbody>' || html_rows || '</tbody></table>', {nl} ORDER BY _section) AS html,
    string_agg('## ' || title || {nl} || {nl} || header_md || {nl} || md_rows,
      {nl} || {nl} ORDER BY _section) AS md,
    sum(n) AS entries, min(first_date) AS first_date, max(last_date) AS last_date
  FROM per_section JOIN {_headers(cm)} USING (_section) GROUP BY patient_id
), rendered AS (
  SELECT patient_id, entries, first_date, last_date,
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>' || {heading}
      || '</title><style>{STYLE}</style></head><body><h1>' || {heading} || '</h1><p>'
      || entries || ' entries, ' || coalesce(CAST(first_date AS VARCHAR), '?') || ' to '
      || coalesce(CAST(last_date AS VARCHAR), '?') || '</p>' || html || '</body></html>'
      AS body_html,
    '# ' || {heading} || {nl} || {nl} || entries || ' entries' || {nl} || {nl} || md
      AS body_markdown
  FROM per_patient
)
SELECT {sql_string(m.name)} AS _mapping, {sql_string(tables)} AS _source_table,
  patient_id AS _source_key, CAST(NULL AS VARCHAR) AS _variant, 'loaded' AS _fate,
  CAST(NULL AS VARCHAR) AS _rule, {fields}
FROM rendered"""
