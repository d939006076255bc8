"""The checklist workbook of a run report (``checklist.xlsx``), as migration teams keep it:
the checklist, the decision, gates, reconcile, parked records and the timing comparison.

It also holds the few formatters the workbook shares with the report page
(``workbench.checklist.report``), so both round and write numbers and times alike.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.checklist.report_model import (
    Forecast,
    RunRecord,
    RunReport,
    StepRecord,
    TimingComparison,
    as_datetime,
    compare_timings,
    report_forecast,
)
from workbench.render.excel import Styles, atomic_workbook
from workbench.render.excel import write_value as put
from workbench.render.page import fmt_int

__all__ = ["fmt_counts", "fmt_when", "minutes", "run_decision", "write_xlsx"]


# Numbers and times as the page and the workbook show them.


def minutes(seconds: float | None) -> float | None:
    """Seconds as minutes to one decimal, as both the page and the workbook write them."""
    return None if seconds is None else round(seconds / 60, 1)


def fmt_when(value: str | datetime | None) -> str:
    moment = as_datetime(value)
    if moment is None:
        return ""
    offset, zone = moment.utcoffset(), ""
    if offset is not None:
        z = moment.strftime("%z")
        zone = " UTC" if not offset else f" {z[:3]}:{z[3:5]}"
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def fmt_counts(counts: dict[str, Any]) -> str:
    return "; ".join(
        f"{k}: {fmt_int(v) if isinstance(v, int) and not isinstance(v, bool) else v}"
        for k, v in counts.items()
    )


def run_decision(run: RunRecord) -> dict[str, Any]:
    d = run.decision or {}
    return {
        "decision": d.get("decision"),
        "reasons": list(d.get("reasons") or []),
        "signed_off_by": d.get("signed_off_by"),
        "at": d.get("at"),
    }


# The workbook.


def write_xlsx(
    report: RunReport,
    path: Path,
    forecast: Forecast | None = None,
    comparison: TimingComparison | None = None,
) -> Path:
    """The checklist workbook at ``path``; all or nothing."""
    forecast = forecast or report_forecast(report)
    comparison = comparison or compare_timings(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_workbook(path, remove_timezone=True) as workbook:
        book = _Book(workbook)
        _checklist_sheet(book, report.run)
        _decision_sheet(book, report.run)
        _gates_sheet(book, report.gates)
        _reconcile_sheet(book, report.reconcile)
        _parked_sheet(book, report.parked)
        _timing_sheet(book, comparison, forecast)
    return path


class _Book:
    """The workbook and its cell formats; ``sheet`` writes one table with a frozen header,
    an autofilter and set column widths."""

    def __init__(self, workbook: Any) -> None:
        self.workbook = workbook
        self.styles = Styles(workbook)
        self.formats = {
            "count": self.styles.count,
            "fraction": self.styles.fraction,
            "minutes": workbook.add_format({"num_format": "0.0"}),
            "when": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "input": self.styles.input,
            "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
        }

    def sheet(self, name: str, columns: list[tuple[str, int, str | None]], rows: list[list[Any]]):
        ws = self.workbook.add_worksheet(name)
        for col, (header, width, fmt) in enumerate(columns):
            style = self.styles.input_header if fmt == "input" else self.styles.header
            ws.write_string(0, col, header, style)
            ws.set_column(col, col, width)
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                self.cell(ws, r, col, value, columns[col][2])
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
        return ws

    def cell(self, ws, row: int, col: int, value: Any, fmt: str | None = None) -> None:
        style = self.formats.get(fmt) if fmt else None
        if fmt == "when" and value:
            ws.write_datetime(row, col, as_datetime(value), style)
        else:
            put(ws, row, col, value, style)

    def notes(self, ws, row: int, lines: list[tuple[str, Any]]) -> None:
        for offset, (key, value) in enumerate(lines):
            put(ws, row + offset, 0, key, self.styles.key)
            put(ws, row + offset, 1, value)


def _checklist_sheet(book: _Book, run: RunRecord) -> None:
    columns = [
        ("Seq", 5, None), ("Step", 20, None), ("Title", 36, None), ("Kind", 10, None),
        ("Owner / operator", 18, None), ("Planned min", 11, "minutes"),
        ("Actual min", 11, "minutes"), ("Waiting min", 11, "minutes"), ("Status", 10, None),
        ("Started", 19, "when"), ("Ended", 19, "when"), ("Counts", 30, None),
        ("Notes / error", 50, "wrap"), ("Output", 30, None), ("Sign-off", 18, "input"),
    ]  # fmt: skip
    rows = [
        [
            s.seq, s.step, s.title, s.kind, s.operator, minutes(s.planned_s),
            minutes(s.duration_s), minutes(s.waiting_s), s.status, s.started_at, s.ended_at,
            fmt_counts(s.counts), s.error, s.artefact, _sign_off(s),
        ]
        for s in sorted(run.steps, key=lambda s: s.seq)
    ]  # fmt: skip
    book.sheet("Checklist", columns, rows)


def _sign_off(s: StepRecord) -> str | None:
    if s.kind == "manual" and s.status == "passed" and s.operator:
        return f"acknowledged by {s.operator}"
    return None


def _decision_sheet(book: _Book, run: RunRecord) -> None:
    d = run_decision(run)
    rows: list[list[Any]] = [
        ["Run", run.id], ["Checklist", run.checklist], ["Kind", run.kind],
        ["Target", run.target], ["Status", run.status], ["Operator", run.operator],
        ["Started", fmt_when(run.started_at)], ["Ended", fmt_when(run.ended_at)],
        ["Snapshot rows", run.snapshot_rows],
        ["Decision", (d["decision"] or "not decided").upper()],
        ["Signed off by", d["signed_off_by"]], ["At", fmt_when(d["at"])],
        *(["Reason", r] for r in d["reasons"]),
    ]  # fmt: skip
    book.sheet("Decision", [("Item", 16, None), ("Value", 80, "wrap")], rows)


def _gates_sheet(book: _Book, gates: list[dict[str, Any]]) -> None:
    columns = [
        ("Gate", 28, None), ("Result", 10, None), ("Ratio", 10, "fraction"),
        ("Threshold", 10, "fraction"), ("Rows passing", 14, "count"), ("Rows", 14, "count"),
    ]  # fmt: skip
    rows = [
        [g.get("gate"), "passed" if g.get("passed") else "FAILED", g.get("ratio"),
         g.get("threshold"), g.get("passed_count"), g.get("total")]
        for g in gates
    ]  # fmt: skip
    book.sheet("Gates", columns, rows)


def _reconcile_sheet(book: _Book, reconcile: dict[str, Any] | None) -> None:
    columns = [
        ("Mapping", 24, None), ("Source table", 24, None), ("Source rows", 13, "count"),
        ("Loaded", 13, "count"), ("Parked", 13, "count"), ("Excluded", 13, "count"),
        ("Balanced", 10, None),
    ]  # fmt: skip
    lines = (reconcile or {}).get("source_lines") or []
    rows = [
        [x.get("mapping"), x.get("source_table"), x.get("source_rows"), x.get("loaded"),
         x.get("parked"), x.get("excluded"), "yes" if x.get("balanced") else "NO"]
        for x in lines
    ]  # fmt: skip
    ws = book.sheet("Reconcile", columns, rows)
    if reconcile is None:
        book.notes(ws, len(rows) + 2, [("Reconcile", "none recorded for this run")])
        return
    balanced = "yes" if reconcile.get("balanced") else "NO"
    issues = [("Discrepancy", i) for i in reconcile.get("discrepancies") or []]
    book.notes(ws, len(rows) + 2, [("Balanced", balanced), *issues])


def _parked_sheet(book: _Book, parked: list[dict[str, Any]]) -> None:
    columns = [
        ("Mapping", 24, None), ("Source table", 24, None), ("Rule", 30, None),
        ("Status", 12, None), ("Rows", 12, "count"),
    ]  # fmt: skip
    rows = [
        [p.get(k) for k in ("mapping", "source_table", "rule", "status", "rows")] for p in parked
    ]
    book.sheet("Parked", columns, rows)


def _timing_sheet(book: _Book, comparison: TimingComparison, forecast: Forecast) -> None:
    by_step = {f.step: f for f in forecast.steps}
    columns = [
        ("Seq", 5, None), ("Step", 20, None), ("Kind", 10, None), ("Planned min", 11, "minutes"),
        *((f"{r} min", 22, "minutes") for r in comparison.runs),
        (f"Forecast basis ({forecast.basis_run}) min", 26, "minutes"),
        ("Forecast min", 12, "minutes"), ("Forecast method", 30, None),
    ]  # fmt: skip
    rows = []
    for t in comparison.steps:
        f = by_step.get(t.step)
        rows.append(
            [t.seq, t.step, t.kind, minutes(t.planned_s), *map(minutes, t.actual_s),
             minutes(f.basis_s) if f else None, minutes(f.forecast_s) if f else None,
             f.method if f else "not in this run"]
        )  # fmt: skip
    ws = book.sheet("Timing comparison", columns, rows)
    below = len(rows) + 2
    book.notes(
        ws,
        below,
        [
            ("Forecast window (min)", minutes(forecast.total_s)),
            ("Target rows", forecast.target_rows),
            ("Method", forecast.method),
        ],
    )
