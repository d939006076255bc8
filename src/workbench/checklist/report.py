"""The report of one checklist run, for the go/no-go meeting and the client's records.

``write_run_report`` writes ``reports/<run-id>/``: ``index.html`` (one offline page: the
decision, the timed checklist, a Gantt chart, gates, reconcile, parked records, links to each
step's output, and the timings against earlier runs with a forecast of the go-live window),
``index.pdf`` (that page printed by a headless Chromium without network), ``checklist.xlsx``
(the checklist as migration teams keep it) and ``comparison.json``. It lays out a
``RunReport`` and nothing else: counts, ids, statuses and timings, never a patient's value.
The workbook is written by ``report_xlsx`` and the page's charts built by ``report_charts``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from workbench.checklist.report_charts import gantt_chart, parked_chart
from workbench.checklist.report_model import (
    Forecast,
    RunRecord,
    RunReport,
    TimingComparison,
    compare_timings,
    forecast_window,
    report_forecast,
)
from workbench.checklist.report_xlsx import (
    fmt_counts,
    fmt_when,
    minutes,
    run_decision,
    write_xlsx,
)
from workbench.errors import WorkbenchError
from workbench.render import browser, page
from workbench.render.charts import ChartSlots
from workbench.render.page import Markup, fmt_int, fmt_pct, tag

__all__ = ["forecast_window", "render", "write_run_report", "write_xlsx"]

HTML_NAME = "index.html"
PDF_NAME = "index.pdf"
XLSX_NAME = "checklist.xlsx"
JSON_NAME = "comparison.json"


class RunReportError(WorkbenchError):
    """A run report cannot be written."""


def write_run_report(
    report: RunReport, out_dir: Path, pdf: bool = True, *, forecast_rows: int | None = None
) -> dict[str, Path]:
    """Write the run's report into ``out_dir/<run-id>/`` (``out_dir`` being the reports
    directory; the run's own directory is accepted too) and return the files by kind:
    ``html``, ``xlsx``, ``json`` and, unless ``pdf`` is false, ``pdf``."""
    run = report.run
    if not run.id or run.id in (".", "..") or any(c in run.id for c in "/\\"):
        raise RunReportError(f"run id {run.id!r} cannot name a report directory")
    if forecast_rows is not None:
        report = replace(report, forecast_rows=forecast_rows)
    run_dir = Path(out_dir)
    if run_dir.name != run.id:
        run_dir = run_dir / run.id
    if pdf:  # before anything is written: a report comes whole or not at all
        try:
            browser.find_chromium()
        except browser.BrowserError as e:
            raise browser.BrowserError(
                f"{run_dir / PDF_NAME}: {e}; or write the report without its PDF"
            ) from None
    forecast = report_forecast(report)
    comparison = compare_timings(report)
    paths = {"html": page.write(render(report, forecast, comparison), run_dir / HTML_NAME)}
    paths["xlsx"] = write_xlsx(report, run_dir / XLSX_NAME, forecast, comparison)
    paths["json"] = _write_json(report, forecast, comparison, run_dir / JSON_NAME)
    if pdf:
        partial = run_dir / f".{PDF_NAME}.partial.pdf"
        try:
            browser.print_pdf(paths["html"], partial)
            os.replace(partial, run_dir / PDF_NAME)
        finally:
            partial.unlink(missing_ok=True)
        paths["pdf"] = run_dir / PDF_NAME
    return paths


# Numbers and times on the page; ``minutes`` and the formatters the workbook shares with
# the page live in ``report_xlsx``.


def _min(seconds: float | None) -> str:
    return "" if seconds is None else f"{minutes(seconds):,.1f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if abs(seconds) < 3600:
        return f"{seconds / 60:.1f} min"
    whole = round(abs(seconds) / 60)
    return f"{'-' if seconds < 0 else ''}{whole // 60} h {whole % 60:02d} min"


# The page.

SECTIONS = [
    ("decision", "Decision"),
    ("checklist", "Checklist"),
    ("timing", "Timing"),
    ("gates", "Quality gates"),
    ("reconcile", "Reconcile"),
    ("parked", "Parked records"),
    ("outputs", "Step outputs"),
    ("comparison", "Against earlier runs"),
]


def render(
    report: RunReport,
    forecast: Forecast | None = None,
    comparison: TimingComparison | None = None,
) -> str:
    """The report page as one self-contained HTML document; the same report always gives
    the same bytes."""
    forecast = forecast or report_forecast(report)
    comparison = comparison or compare_timings(report)
    run, slots = report.run, ChartSlots()
    body = page.join(
        [
            _summary(run),
            _section("decision", "Decision", _decision_block(run)),
            _section("checklist", "Checklist", _checklist_table(run)),
            _section("timing", "Timing", _timing(run, slots)),
            _section("gates", "Quality gates", _gates(report.gates)),
            _section("reconcile", "Reconcile", _reconcile(report.reconcile)),
            _section("parked", "Parked records", _parked(report.parked, slots)),
            _section("outputs", "Step outputs", _outputs(run)),
            _section("comparison", "Against earlier runs", _comparison(comparison, forecast)),
        ]
    )
    html = page.page(
        f"Run report: {run.id}",
        body,
        nav=[page.TocEntry(anchor, label) for anchor, label in SECTIONS],
        subtitle=f"Checklist {run.checklist}: {run.kind} against {run.target}",
    )
    return slots.fill(html.replace("</style>", CSS + "</style>", 1))


def _section(anchor: str, title: str, content: object) -> Markup:
    return tag("section", page.join([tag("h2", title), content]), id=anchor)


def _note(text: object) -> Markup:
    return tag("p", text, cls="note")


def _summary(run: RunRecord) -> Markup:
    over = run.actual_s - run.planned_s
    params = "; ".join(f"{k}={v}" for k, v in run.parameters.items())
    return page.facts(
        [
            ("Run", tag("code", run.id)),
            ("Checklist", run.checklist),
            ("Kind", run.kind),
            ("Target", run.target),
            ("Status", tag("span", run.status, cls=f"status {run.status}")),
            ("Operator", run.operator),
            ("Started", fmt_when(run.started_at)),
            ("Ended", fmt_when(run.ended_at)),
            ("Wall clock", _duration(run.wall_clock_s)),
            (
                "Total actual vs planned",
                f"{_duration(run.actual_s)} actual vs {_duration(run.planned_s)} planned "
                f"({'+' if over >= 0 else '−'}{_duration(abs(over))})",
            ),
            ("Snapshot rows", fmt_int(run.snapshot_rows)),
            ("Parameters", params),
        ]
    )


def _decision_block(run: RunRecord) -> Markup:
    d = run_decision(run)
    if d["decision"] not in ("go", "no-go"):
        return tag("div", tag("p", "No decision recorded yet.", cls="verdict"), cls="verdict-box")
    reasons = (
        tag("ul", page.join(tag("li", r) for r in d["reasons"]))
        if d["reasons"]
        else tag("p", "No reasons recorded.")
    )
    signed = d["signed_off_by"] or "not signed off"
    return tag(
        "div",
        page.join(
            [
                tag("p", d["decision"].upper(), cls="verdict"),
                reasons,
                tag("p", f"Signed off by {signed}, {fmt_when(d['at'])}", cls="signed"),
            ]
        ),
        cls=f"verdict-box {d['decision']}",
    )


CHECKLIST_HEADERS = [
    "#", "Step", "Kind", "Planned (min)", "Actual (min)", "Waiting (min)", "Status",
    "Operator", "Counts",
]  # fmt: skip


def _marked_table(headers: list[str], rows: list[tuple[str | None, list]], numeric) -> Markup:
    """A table whose rows carry a class (a failed step or gate); a row given as one Markup
    instead of a list of cells spans the whole table (a step's error)."""
    right = set(numeric)
    head = page.join(tag("th", h, cls="num" if i in right else None) for i, h in enumerate(headers))
    body = page.join(
        tag("tr", tag("td", cells, colspan=str(len(headers))), cls=cls)
        if isinstance(cells, Markup)
        else tag(
            "tr",
            page.join(tag("td", c, cls="num" if i in right else None) for i, c in enumerate(cells)),
            cls=cls,
        )
        for cls, cells in rows
    )
    return tag("table", page.join([tag("thead", tag("tr", head)), tag("tbody", body)]))


def _checklist_table(run: RunRecord) -> Markup:
    rows: list[tuple[str | None, Any]] = []
    for s in sorted(run.steps, key=lambda s: s.seq):
        late = s.duration_s is not None and s.planned_s is not None and s.duration_s > s.planned_s
        rows.append(
            (
                s.status,
                [
                    s.seq, page.join([tag("code", s.step), tag("div", s.title, cls="title")]),
                    s.kind, _min(s.planned_s),
                    tag("span", _min(s.duration_s), cls="over" if late else None),
                    _min(s.waiting_s) if s.waiting_s else "",
                    tag("span", s.status, cls=f"status {s.status}"), s.operator,
                    fmt_counts(s.counts),
                ],
            )
        )  # fmt: skip
        if s.error:
            rows.append(
                ("error", page.join([tag("strong", f"{s.step} failed: "), tag("pre", s.error)]))
            )
    note = _note("Durations in minutes; waiting is the part spent waiting for a person.")
    return page.join([_marked_table(CHECKLIST_HEADERS, rows, (0, 3, 4, 5)), note])


def _timing(run: RunRecord, slots: ChartSlots) -> Markup:
    chart = gantt_chart(run)
    if chart is None:
        return _note("No step has started yet.")
    return page.join(
        [
            _note(
                "One bar per step, from its start to its end, in minutes since the run began; "
                "the wider, lighter bar behind it is the step's planned duration."
            ),
            tag("div", Markup(slots.add(chart)), cls="chart"),
        ]
    )


def _gates(gates: list[dict[str, Any]]) -> Markup:
    if not gates:
        return _note("No quality gates were recorded for this run.")
    rows = []
    for g in gates:
        result = "passed" if g.get("passed") else "failed"
        rows.append(
            (
                None if g.get("passed") else "failed",
                [
                    g.get("gate"), tag("span", result, cls=f"status {result}"),
                    fmt_pct(g.get("ratio")), fmt_pct(g.get("threshold")),
                    fmt_int(g.get("passed_count")), fmt_int(g.get("total")),
                ],
            )
        )  # fmt: skip
    headers = ["Gate", "Result", "Ratio", "Threshold", "Rows passing", "Rows"]
    passed = sum(bool(g.get("passed")) for g in gates)
    summary = tag("p", f"{passed} of {len(gates)} gates passed.")
    return page.join([summary, _marked_table(headers, rows, (2, 3, 4, 5))])


def _reconcile(reconcile: dict[str, Any] | None) -> Markup:
    if reconcile is None:
        return _note("No reconcile was recorded for this run.")
    issues = list(reconcile.get("discrepancies") or [])
    balanced = bool(reconcile.get("balanced"))
    banner = (
        "Balanced: every source row is loaded, parked or excluded."
        if balanced
        else f"Not balanced: {len(issues)} discrepanc{'y' if len(issues) == 1 else 'ies'}."
    )
    lines = reconcile.get("source_lines") or []
    headers = ["Mapping", "Source table", "Source rows", "Loaded", "Parked", "Excluded", "Balanced"]
    rows = [
        (
            line.get("mapping"), line.get("source_table"), fmt_int(line.get("source_rows")),
            fmt_int(line.get("loaded")), fmt_int(line.get("parked")),
            fmt_int(line.get("excluded")), "yes" if line.get("balanced") else "NO",
        )
        for line in lines
    ]  # fmt: skip
    parts = [tag("p", banner, cls="banner " + ("ok" if balanced else "bad"))]
    if rows:
        parts.append(page.table(headers, rows, numeric=(2, 3, 4, 5)))
    if issues:
        parts += [tag("h3", "Discrepancies"), tag("ul", page.join(tag("li", i) for i in issues))]
    return page.join(parts)


def _parked_by_rule(parked: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for p in parked:
        totals[(str(p.get("mapping")), str(p.get("rule")))] += int(p.get("rows") or 0)
    return [(m, r, n) for (m, r), n in sorted(totals.items())]


def _parked(parked: list[dict[str, Any]], slots: ChartSlots) -> Markup:
    if not parked:
        return _note("No record was parked.")
    by_rule = _parked_by_rule(parked)
    total = sum(n for _, _, n in by_rule)
    detail = sorted(
        parked,
        key=lambda p: tuple(str(p.get(k)) for k in ("mapping", "rule", "source_table", "status")),
    )
    rows = [
        (
            p.get("mapping"),
            p.get("source_table"),
            tag("code", p.get("rule")),
            p.get("status"),
            fmt_int(p.get("rows")),
        )
        for p in detail
    ]
    chart = parked_chart(by_rule)
    return page.join(
        [
            tag("p", f"{total:,} parked rows under {len(by_rule)} mapping and rule pairs."),
            tag("div", Markup(slots.add(chart)), cls="chart"),
            page.table(["Mapping", "Source table", "Rule", "Status", "Rows"], rows, numeric=(4,)),
        ]
    )


def _outputs(run: RunRecord) -> Markup:
    items = []
    for s in sorted(run.steps, key=lambda s: s.seq):
        if not s.artefact:
            continue
        target = s.artefact.replace("\\", "/")
        # Only files beside the report are linked: the report travels as a folder.
        local = ":" not in target and not target.startswith(("/", "//"))
        shown = page.link(target, target) if local else tag("code", target)
        items.append(tag("li", page.join([tag("code", s.step), " ", s.title, ": ", shown])))
    if not items:
        return _note("No step wrote a notebook or log.")
    return tag("ul", page.join(items))


def _comparison(comparison: TimingComparison, forecast: Forecast) -> Markup:
    this = comparison.runs[-1]
    run_heads = [f"{r} (this run)" if r == this else r for r in comparison.runs]
    rows = [
        (t.seq, tag("code", t.step), t.kind, _min(t.planned_s), *(_min(a) for a in t.actual_s))
        for t in comparison.steps
    ]
    planned_total = sum(t.planned_s or 0 for t in comparison.steps)
    rows.append(
        ("", tag("strong", "total"), "", _min(planned_total), *map(_min, comparison.totals_s))
    )
    n = len(comparison.runs)
    timings = page.table(
        ["#", "Step", "Kind", "Planned (min)", *(f"{h} (min)" for h in run_heads)],
        rows,
        numeric=range(3, 4 + n),
        caption="Actual minutes per step, run by run (matched by step id)",
    )
    basis = forecast.basis_run
    f_rows = [
        (tag("code", f.step), _min(f.planned_s), _min(f.basis_s), _min(f.forecast_s), f.method)
        for f in forecast.steps
    ]
    f_rows.append(
        (
            tag("strong", "window"),
            "",
            "",
            tag("strong", _min(forecast.total_s)),
            _duration(forecast.total_s),
        )
    )
    target = (
        f"{forecast.target_rows:,} rows" if forecast.target_rows is not None else "size unknown"
    )
    table = page.table(
        ["Step", "Planned (min)", f"{basis} actual (min)", "Forecast (min)", "Method"],
        f_rows,
        numeric=(1, 2, 3),
        caption=f"Forecast of the go-live window ({target})",
    )
    intro = (
        "No earlier run to compare with."
        if n == 1
        else f"This run against {n - 1} earlier run{'s' if n > 2 else ''}."
    )
    return page.join(
        [
            _note(intro),
            timings,
            tag("h3", f"Go-live window: {_duration(forecast.total_s)} (forecast)"),
            tag("p", forecast.method),
            table,
        ]
    )


CSS = """
.verdict-box { border: 2px solid var(--muted); border-radius: 6px; padding: .5rem 1rem;
  background: #eef2f7; margin: .5rem 0 1rem; }
.verdict-box .verdict { font-size: 30px; font-weight: bold; letter-spacing: .06em; margin: 0; }
.verdict-box.go { background: #e3f4e0; border-color: #2e7d32; color: #1b5e20; }
.verdict-box.no-go { background: #fde8e8; border-color: #b71c1c; color: #7f1d1d; }
.verdict-box .signed { margin: .3rem 0 0; }
tr.failed > td { background: #fde8e8; }
tr.error > td { background: #fff5f5; color: #7f1d1d; }
tr.error pre { white-space: pre-wrap; margin: .2rem 0 0;
  font: 12px/1.3 Menlo, Consolas, monospace; }
.status.failed { color: #b71c1c; font-weight: bold; }
.status.passed { color: #2e7d32; }
.over { color: #b45309; font-weight: bold; }
div.title { color: var(--muted); font-size: 12px; }
.banner { padding: .4rem .8rem; border-radius: 4px; font-weight: bold; }
.banner.ok { background: #e3f4e0; color: #1b5e20; }
.banner.bad { background: #fde8e8; color: #7f1d1d; }
"""


# The same comparison as data, for the CLI and later tooling.


def _write_json(
    report: RunReport, forecast: Forecast, comparison: TimingComparison, path: Path
) -> Path:
    data = {
        "run": report.run.id,
        "runs": comparison.runs,
        "steps": [
            {
                "seq": t.seq,
                "step": t.step,
                "kind": t.kind,
                "planned_s": t.planned_s,
                "actual_s": dict(zip(comparison.runs, t.actual_s, strict=True)),
            }
            for t in comparison.steps
        ],
        "forecast": {
            **{k: v for k, v in asdict(forecast).items() if k != "steps"},
            "steps": [f._asdict() for f in forecast.steps],
        },
    }
    return page.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n", path)
