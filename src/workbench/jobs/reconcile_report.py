"""The reconciliation of a job as reports: ``reconcile.json``, ``reconcile.xlsx`` and an offline
``reconcile.html`` with a green *balanced* or a red *N discrepancies* banner.

The reports carry counts, sums, codes of value-set columns, and keys only inside the
discrepancy lines: never a name, a date of birth or any other single row's value (minima and
maxima are reported only as matching or not).
"""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt

from workbench.jobs.reconcile import Reconciliation
from workbench.render import page
from workbench.render.charts import COLOURS, ChartSlots
from workbench.render.excel import Styles, atomic_workbook, check_rows, write_value
from workbench.render.page import Markup, esc, fmt_int, fmt_num, tag

JSON_NAME = "reconcile.json"
XLSX_NAME = "reconcile.xlsx"
HTML_NAME = "reconcile.html"
FATES = (("loaded", COLOURS["good"]), ("parked", COLOURS["bad"]), ("excluded", COLOURS["filled"]))
BANNER = {
    True: "background:#e3f4e1;border:1px solid #54a24b;color:#1e5b1a",
    False: "background:#fde8e8;border:1px solid #e45756;color:#9b1c1c",
}


def write_reconcile_report(
    rec: Reconciliation, out_dir: Path, title: str | None = None
) -> dict[str, Path]:
    """Write the three reports into ``out_dir``; returns their paths by file name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = title or f"Reconciliation of job {rec.job_id}"
    return {
        JSON_NAME: page.write(json.dumps(rec.to_dict(), indent=2) + "\n", out_dir / JSON_NAME),
        XLSX_NAME: write_xlsx(rec, out_dir / XLSX_NAME, title),
        HTML_NAME: page.write(render_html(rec, title), out_dir / HTML_NAME),
    }


def verdict(rec: Reconciliation) -> str:
    n = len(rec.discrepancies)
    return "Balanced" if rec.balanced else f"{n} discrepanc{'y' if n == 1 else 'ies'}"


def summary_rows(rec: Reconciliation) -> list[tuple[str, object]]:
    """The Summary sheet and facts table: the same numbers in both reports."""
    totals = rec.totals()
    return [
        ("Job", rec.job_id),
        ("Result", verdict(rec)),
        ("Source tables", len(rec.source_lines)),
        ("Source rows", totals["source_rows"]),
        ("Loaded", totals["loaded"]),
        ("Parked", totals["parked"]),
        ("Excluded", totals["excluded"]),
        ("Target tables", len(rec.table_lines)),
        ("Expected target rows", totals["expected_rows"]),
        ("Target rows", totals["target_rows"]),
        ("Discrepancies", totals["discrepancies"]),
        ("Rules", rec.rules),
    ]


SOURCE_HEADER = (
    "Mapping", "Source table", "Target table", "Source rows", "Loaded", "Parked", "Excluded",
    "Accounted", "Balanced",
)  # fmt: skip
TABLE_HEADER = (
    "Table", "Key", "Expected rows", "Target rows", "Key hash matches", "Missing keys",
    "Unexpected keys", "Balanced",
)  # fmt: skip
NUMERIC_HEADER = (
    "Table", "Column", "Type", "Count expected", "Count target", "Sum expected", "Sum target",
    "Min matches", "Max matches",
)  # fmt: skip
CODE_HEADER = ("Table", "Column", "Code", "Expected", "Target", "Matches")


def _source_rows(rec: Reconciliation) -> list[tuple]:
    return [
        (s.mapping, s.source_table, s.target_table, s.source_rows, s.loaded, s.parked,
         s.excluded, s.accounted, s.balanced)
        for s in rec.source_lines
    ]  # fmt: skip


def _table_rows(rec: Reconciliation) -> list[tuple]:
    return [
        (t.table, t.key, t.expected_rows, t.actual_rows,
         t.expected_key_hash == t.actual_key_hash, t.missing_keys, t.unexpected_keys, t.balanced)
        for t in rec.table_lines
    ]  # fmt: skip


def _numeric_rows(rec: Reconciliation) -> list[tuple]:
    return [
        (t.table, n.column, n.type, n.expected["count"], n.actual["count"],
         _number(n.expected["sum"]), _number(n.actual["sum"]),
         n.expected["min"] == n.actual["min"], n.expected["max"] == n.actual["max"])
        for t in rec.table_lines
        for n in t.numeric
    ]  # fmt: skip


def _code_rows(rec: Reconciliation) -> list[tuple]:
    return [
        (t.table, c.column, "(null)" if c.code is None else c.code, c.expected, c.actual,
         c.expected == c.actual)
        for t in rec.table_lines
        for c in t.codes
    ]  # fmt: skip


def _number(value: object) -> object:
    return value if value is None or isinstance(value, int | float) else float(str(value))


# The workbook.


def write_xlsx(rec: Reconciliation, path: Path, title: str) -> Path:
    """All or nothing: written next to ``path`` and moved into place when complete."""
    with atomic_workbook(path) as workbook:
        styles = Styles(workbook)
        _summary_sheet(workbook, styles, rec, title)
        sheets = [
            ("Source balance", SOURCE_HEADER, _source_rows(rec)),
            ("Tables", TABLE_HEADER, _table_rows(rec)),
            ("Discrepancies", ("#", "Discrepancy"), list(enumerate(rec.discrepancies, 1))),
            ("Numeric columns", NUMERIC_HEADER, _numeric_rows(rec)),
            ("Codes", CODE_HEADER, _code_rows(rec)),
        ]
        for name, header, rows in sheets:
            _list_sheet(workbook, styles, name, header, rows)
    return path


def _summary_sheet(workbook, styles: Styles, rec: Reconciliation, title: str) -> None:
    sheet = workbook.add_worksheet("Summary")
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 60)
    sheet.write_string(0, 0, title, styles.title)
    for i, (label, value) in enumerate(summary_rows(rec), start=2):
        sheet.write_string(i, 0, label, styles.key)
        write_value(sheet, i, 1, value, styles.count if isinstance(value, int) else None)


def _list_sheet(workbook, styles: Styles, name: str, header: tuple, rows: list[tuple]) -> None:
    check_rows(name, len(rows) + 1)
    sheet = workbook.add_worksheet(name)
    for col, text in enumerate(header):
        sheet.write_string(0, col, text, styles.header)
        sheet.set_column(col, col, 100 if text == "Discrepancy" else max(12, len(text) + 2))
    for r, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            fmt = styles.count if isinstance(value, int) and not isinstance(value, bool) else None
            write_value(sheet, r, col, value, fmt)
    sheet.freeze_panes(1, 0)
    if rows:
        sheet.autofilter(0, 0, len(rows), len(header) - 1)


# The page.


def render_html(rec: Reconciliation, title: str) -> str:
    slots = ChartSlots()
    body = page.join(
        [
            _banner(rec),
            _section("summary", "Summary", page.facts(_facts(rec))),
            _section("source-balance", "Source balance", _source_balance(rec, slots)),
            _section("tables", "Target tables", _tables(rec)),
            _section("columns", "Numeric columns and codes", _columns(rec)),
            _section("discrepancies", "Discrepancies", _discrepancies(rec)),
        ]
    )
    nav = [
        page.TocEntry("summary", "Summary"),
        page.TocEntry("source-balance", "Source balance"),
        page.TocEntry("tables", "Target tables"),
        page.TocEntry("columns", "Numeric columns and codes"),
        page.TocEntry("discrepancies", "Discrepancies"),
    ]
    subtitle = f"Job {rec.job_id}: the target against the projection, every row accounted for"
    return slots.fill(page.page(title, body, nav=nav, subtitle=subtitle))


def _banner(rec: Reconciliation) -> Markup:
    style = BANNER[rec.balanced] + ";padding:.6rem 1rem;border-radius:6px;font-size:18px"
    return tag("div", tag("strong", verdict(rec)), cls="banner", style=style)


def _facts(rec: Reconciliation) -> list[tuple[str, object]]:
    return [(k, fmt_int(v) if isinstance(v, int) else v) for k, v in summary_rows(rec)]


def _source_balance(rec: Reconciliation, slots: ChartSlots) -> Markup:
    rows = [(*r[:3], *(fmt_int(n) for n in r[3:8]), _yes(r[8])) for r in _source_rows(rec)]
    note = tag(
        "p",
        "Every source row is loaded (its rows are in the target), parked (kept with a "
        "reason) or excluded (by a named rule): source rows = loaded + parked + excluded.",
        cls="note",
    )
    chart = Markup(f'<div class="chart">{slots.add(fates_chart(rec))}</div>')
    return page.join([note, chart, page.table(SOURCE_HEADER, rows, numeric=range(3, 8))])


def fates_chart(rec: Reconciliation) -> alt.Chart:
    """Loaded, parked and excluded rows per source table, as stacked bars."""
    data = [
        {"label": f"{s.mapping}: {s.source_table}", "fate": fate, "rows": n, "order": i}
        for s in rec.source_lines
        for i, (fate, _) in enumerate(FATES)
        if (n := getattr(s, fate))
    ]
    scale = alt.Scale(domain=[f for f, _ in FATES], range=[c for _, c in FATES])
    return (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort=None),
            x=alt.X("rows:Q", title="source rows", axis=alt.Axis(format="~s")),
            color=alt.Color("fate:N", title=None, scale=scale),
            order=alt.Order("order:Q"),
        )
        .properties(width=420, height=alt.Step(16))
    )


def _tables(rec: Reconciliation) -> Markup:
    rows = [
        (r[0], r[1], fmt_int(r[2]), fmt_int(r[3]), _yes(r[4]), fmt_int(r[5]), fmt_int(r[6]),
         _yes(r[7]))
        for r in _table_rows(rec)
    ]  # fmt: skip
    note = tag(
        "p",
        "Expected rows are the projection's loadable rows minus those parked at load; the key "
        "hash is the count and sum of md5-derived integers of the primary keys, computed in "
        "each engine.",
        cls="note",
    )
    return page.join([note, page.table(TABLE_HEADER, rows, numeric=(2, 3, 5, 6))])


def _columns(rec: Reconciliation) -> Markup:
    numeric = [
        (*r[:3], fmt_int(r[3]), fmt_int(r[4]), fmt_num(r[5]), fmt_num(r[6]), _yes(r[7]),
         _yes(r[8]))
        for r in _numeric_rows(rec)
    ]  # fmt: skip
    codes = [(*r[:3], fmt_int(r[3]), fmt_int(r[4]), _yes(r[5])) for r in _code_rows(rec)]
    parts = [tag("h3", "Numeric columns")]
    parts.append(
        page.table(NUMERIC_HEADER, numeric, numeric=(3, 4, 5, 6))
        if numeric
        else tag("p", "No numeric columns.", cls="note")
    )
    listed = "The most frequent codes of each column, and every code that differs."
    parts += [tag("h3", "Codes of value-set columns"), tag("p", listed, cls="note")]
    parts.append(
        page.table(CODE_HEADER, codes, numeric=(3, 4))
        if codes
        else tag("p", "No value-set columns.", cls="note")
    )
    return page.join(parts)


def _discrepancies(rec: Reconciliation) -> Markup:
    if not rec.discrepancies:
        return tag("p", "None: every source row is accounted for and every table matches.")
    return Markup("<ol>" + page.join(tag("li", d) for d in rec.discrepancies) + "</ol>")


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _section(anchor: str, title: str, body: Markup) -> Markup:
    return Markup(f'<section id="{esc(anchor)}">{tag("h2", title)}{body}</section>')
