"""A checklist run's report: the offline page with its decision, checklist, Gantt chart,
gates, reconcile, parked records and forecast; the PDF; the checklist workbook. Built from
hand-made ledger records, so it needs nothing from the checklist engine."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import openpyxl
import pytest

from conftest import require_tool
from test_map_html import References, _png_colours, _rgb
from workbench.checklist.report import minutes, render, write_run_report
from workbench.checklist.report_model import (
    RunRecord,
    RunReport,
    StepRecord,
    compare_timings,
    forecast_window,
)
from workbench.render import browser, charts

# (step, title, kind, planned s): the dress-rehearsal checklist.
CHECKLIST = [
    ("preflight", "Confirm the target EHR is up", "command", 60),
    ("acquire", "Acquire the client's fresh snapshot", "notebook", 300),
    ("profile", "Profile the snapshot", "notebook", 600),
    ("load", "Validate, dry-run and commit the job", "notebook", 1800),
    ("reconcile", "Reconcile source and target", "notebook", 300),
    ("client_validation", "The client validates the migrated data", "manual", 3600),
]
STEP_IDS = [c[0] for c in CHECKLIST]
LOAD_ERROR = (
    "batch 3 of job J-42 rejected by the target: foreign key encounter.patient_id -> "
    "patient.id violated by 12 rows <parked as orphan_encounter>"
)
DISCREPANCY = "encounter: 12 source rows are neither loaded, parked nor excluded"


def _run(
    run_id: str,
    kind: str,
    start: datetime,
    actual: list[float | None],
    *,
    rows: int,
    failed: int | None = None,
    decision: dict | None = None,
) -> RunRecord:
    """A run of the checklist whose steps took ``actual`` seconds (None: never started),
    one after another with 30 s between them; step ``failed`` (1-based) failed."""
    steps, t = [], start
    timings = zip(CHECKLIST, actual, strict=True)
    for seq, ((step, title, kind_, planned), took) in enumerate(timings, 1):
        if took is None:
            steps.append(StepRecord(seq, step, title, kind_, planned, None, None, None, None,
                                    "skipped"))  # fmt: skip
            continue
        status = "failed" if seq == failed else "passed"
        manual = kind_ == "manual"
        steps.append(
            StepRecord(
                seq, step, title, kind_, planned, t.isoformat(),
                (t + timedelta(seconds=took)).isoformat(), took, took - 120 if manual else 0,
                status, "client SME" if manual else "a.analyst",
                counts={"loaded": 118_250, "parked": 42} if step == "load" else {},
                error=LOAD_ERROR if status == "failed" else None,
                artefact=f"{seq:02d}_{step}.html" if kind_ == "notebook" else (
                    "logs/preflight.log" if step == "preflight" else None),
            )
        )  # fmt: skip
        t += timedelta(seconds=took + 30)
    return RunRecord(
        run_id, "dress-rehearsal", kind, "sandbox" if kind == "rehearsal" else "production",
        "finished" if failed is None else "failed", "a.analyst",
        {"source": "demo_clinic", "snapshot": run_id.lower(), "template": "ohm@3"},
        start.isoformat(), t.isoformat(), steps, decision, rows,
    )  # fmt: skip


GATES = [
    {"gate": "completeness", "ratio": 0.998, "threshold": 0.99, "passed": True,
     "passed_count": 99_800, "total": 100_000},
    {"gate": "referential_integrity", "ratio": 0.91, "threshold": 0.99, "passed": False,
     "passed_count": 91_000, "total": 100_000},
]  # fmt: skip
PARKED = [
    {"mapping": "encounter", "source_table": "clinicvisit", "rule": "orphan_encounter",
     "status": "open", "rows": 30},
    {"mapping": "encounter", "source_table": "clinicvisit", "rule": "missing_date",
     "status": "open", "rows": 8},
    {"mapping": "immunization", "source_table": "immunizations", "rule": "unmapped_code",
     "status": "waived", "rows": 4},
]  # fmt: skip


def rehearsal() -> RunReport:
    run = _run(
        "DR-20240601-080000", "rehearsal", datetime(2024, 6, 1, 8, 0),
        [30, 420, 540, 2100, 240, 3000], rows=100_000,
        decision={"decision": "go", "reasons": ["every step passed", "every gate passed",
                  "reconcile balanced", "client validation: go"],
                  "signed_off_by": "client SME", "at": "2024-06-01T10:05:00"},
    )  # fmt: skip
    reconcile = {"balanced": True, "discrepancies": [], "source_lines": [
        {"mapping": "encounter", "source_table": "clinicvisit", "source_rows": 50_000,
         "loaded": 49_962, "parked": 38, "excluded": 0, "balanced": True}]}  # fmt: skip
    return RunReport(run, [{**GATES[0]}], reconcile, PARKED, forecast_rows=250_000)


def go_live() -> RunReport:
    earlier = _run(
        "DR-20240520-080000", "rehearsal", datetime(2024, 5, 20, 8, 0),
        [40, 380, 500, 1900, 200, 4100], rows=80_000,
    )  # fmt: skip
    run = _run(
        "GL-20240615-200000", "go-live", datetime(2024, 6, 15, 20, 0),
        [35, 900, 1300, 1500, None, None], rows=250_000, failed=4,
        decision={"decision": "no-go", "reasons": ["step load failed",
                  "gate referential_integrity failed", "reconcile not balanced"],
                  "signed_off_by": "m.keller", "at": "2024-06-15T21:05:00+00:00"},
    )  # fmt: skip
    reconcile = {"balanced": False, "discrepancies": [DISCREPANCY], "source_lines": [
        {"mapping": "encounter", "source_table": "clinicvisit", "source_rows": 125_000,
         "loaded": 124_950, "parked": 38, "excluded": 0, "balanced": False}]}  # fmt: skip
    return RunReport(run, GATES, reconcile, PARKED, previous=[rehearsal().run, earlier])


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    require_tool("chromium")
    out = tmp_path_factory.mktemp("reports")
    return {
        "rehearsal": write_run_report(rehearsal(), out),
        "go-live": write_run_report(go_live(), out),
    }


def _html(written, which: str) -> str:
    return written[which]["html"].read_text(encoding="utf-8")


def test_files_land_in_the_runs_report_directory(written):
    paths = written["go-live"]
    assert {k: p.name for k, p in paths.items()} == {
        "html": "index.html", "pdf": "index.pdf", "xlsx": "checklist.xlsx",
        "json": "comparison.json",
    }  # fmt: skip
    assert {p.parent.name for p in paths.values()} == {"GL-20240615-200000"}
    assert [p.name for p in paths["html"].parent.iterdir() if p.name.startswith(".")] == []


def test_the_page_shows_steps_decision_error_gates_and_discrepancies(written):
    html = _html(written, "go-live")
    for step, title, _, _ in CHECKLIST:
        assert f"<code>{step}</code>" in html and title.replace("'", "&#x27;") in html
    assert '<div class="verdict-box no-go"><p class="verdict">NO-GO</p>' in html
    assert "gate referential_integrity failed" in html
    assert "Signed off by m.keller, 2024-06-15 21:05:00 UTC" in html
    # The failed step's row is marked and its error follows it, escaped.
    assert '<tr class="failed"><td class="num">4</td>' in html
    assert "foreign key encounter.patient_id -&gt; patient.id" in html
    assert "&lt;parked as orphan_encounter&gt;" in html
    assert "referential_integrity" in html and "91.0 %" in html and "99.0 %" in html
    assert "1 of 2 gates passed." in html
    assert "Not balanced: 1 discrepancy." in html and DISCREPANCY in html
    assert "orphan_encounter" in html and "42 parked rows" in html
    # Links to each step's notebook or log, beside the report.
    for href in ("02_acquire.html", "04_load.html", "logs/preflight.log"):
        assert f'href="{href}"' in html

    go = _html(written, "rehearsal")
    assert '<div class="verdict-box go"><p class="verdict">GO</p>' in go
    assert "Balanced: every source row is loaded, parked or excluded." in go


def test_the_page_references_nothing_outside_itself(written):
    for which in written:
        html = _html(written, which)
        refs = References()
        refs.feed(html)
        assert refs.scripts == [] and refs.links == []
        assert all(s.startswith("#") for s in refs.sources), refs.sources
        assert "http://" not in html and "https://" not in html
        assert "<!--chart:" not in html
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids))


def _bars(html: str, mark: str) -> int:
    group = re.search(rf'<g class="mark-rect role-mark {mark}_marks"[^>]*>(.*?)</g>', html)
    return group.group(1).count("<path") if group else 0


def test_the_gantt_chart_is_inline_svg_with_one_bar_per_step(written):
    html = _html(written, "rehearsal")
    assert html.count("<svg") == 2  # the Gantt chart and the parked records
    assert _bars(html, "gantt_actual") == _bars(html, "gantt_planned") == len(CHECKLIST)
    svg = html[html.index("<svg") : html.index("</svg>")]
    for seq, step in enumerate(STEP_IDS, 1):
        assert f">{seq}. {step}</text>" in svg
    # The go-live never started its last two steps: rows for them, but no bars.
    live = _html(written, "go-live")
    assert _bars(live, "gantt_actual") == 4
    assert f'fill="{charts.COLOURS["bad"]}"' in live[: live.index("</svg>")]  # the failed load


def _expected_forecast(basis: RunRecord, rows: int) -> dict[str, float]:
    ratio = rows / basis.snapshot_rows
    return {
        s.step: max(s.planned_s, s.duration_s) if s.kind == "manual" else s.duration_s * ratio
        for s in basis.steps
    }


def test_the_go_live_forecast_scales_the_latest_rehearsal_by_rows(written):
    report = go_live()
    basis = report.previous[0]  # the later of the two rehearsals
    expected = _expected_forecast(basis, report.run.snapshot_rows)
    forecast = forecast_window(report.run, basis, None)
    assert forecast.basis_run == basis.id and forecast.ratio == 2.5
    assert {f.step: f.forecast_s for f in forecast.steps} == pytest.approx(expected)
    assert forecast.total_s == pytest.approx(sum(expected.values()))
    # The manual step keeps its plan, as the rehearsal was quicker.
    assert expected["client_validation"] == 3600
    html = _html(written, "go-live")
    assert "Forecast from the actual timings of run DR-20240601-080000" in html
    assert "250,000 / 100,000 rows" in html
    assert f"<strong>{minutes(forecast.total_s):,.1f}</strong>" in html


def test_without_earlier_runs_the_forecast_scales_the_run_itself():
    report = rehearsal()
    forecast = forecast_window(report.run, None, report.forecast_rows)
    expected = _expected_forecast(report.run, report.forecast_rows)
    assert {f.step: f.forecast_s for f in forecast.steps} == pytest.approx(expected)
    assert forecast.basis_run == report.run.id and forecast.target_rows == 250_000
    # A manual step that took longer than planned is forecast at what it took.
    slow = _run("DR-20240602-080000", "rehearsal", datetime(2024, 6, 2, 8, 0),
                [30, 420, 540, 2100, 240, 5000], rows=100_000)  # fmt: skip
    assert forecast_window(slow, None, None).steps[-1].forecast_s == 5000


def test_timings_line_up_by_step_across_runs():
    comparison = compare_timings(go_live())
    assert comparison.runs == ["DR-20240520-080000", "DR-20240601-080000", "GL-20240615-200000"]
    load = next(t for t in comparison.steps if t.step == "load")
    assert load.actual_s == [1900, 2100, 1500]
    assert [t.step for t in comparison.steps] == STEP_IDS


def test_the_workbook_is_the_checklist_as_teams_keep_it(written):
    book = openpyxl.load_workbook(written["go-live"]["xlsx"])
    assert book.sheetnames == [
        "Checklist", "Decision", "Gates", "Reconcile", "Parked", "Timing comparison",
    ]  # fmt: skip
    sheet = book["Checklist"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    header = [c.value for c in sheet[1]]
    assert header[:9] == [
        "Seq", "Step", "Title", "Kind", "Owner / operator", "Planned min", "Actual min",
        "Waiting min", "Status",
    ]  # fmt: skip
    rows = [r[:9] for r in sheet.iter_rows(min_row=2, values_only=True)]
    expected = [
        (s.seq, s.step, s.title, s.kind, s.operator, round(s.planned_s / 60, 1),
         None if s.duration_s is None else round(s.duration_s / 60, 1),
         None if s.waiting_s is None else round(s.waiting_s / 60, 1), s.status)
        for s in go_live().run.steps
    ]  # fmt: skip
    assert rows == expected
    load = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == "load")
    assert load[header.index("Notes / error")] == LOAD_ERROR
    assert load[header.index("Started")] == datetime.fromisoformat(
        go_live().run.step("load").started_at
    )

    decision = {r[0]: r[1] for r in book["Decision"].iter_rows(min_row=2, values_only=True)}
    assert decision["Decision"] == "NO-GO" and decision["Signed off by"] == "m.keller"
    gates = list(book["Gates"].iter_rows(min_row=2, values_only=True))
    assert gates[1][:3] == ("referential_integrity", "FAILED", 0.91)
    reconcile = [r for r in book["Reconcile"].iter_rows(values_only=True) if r[0]]
    assert ("Discrepancy", DISCREPANCY) in [r[:2] for r in reconcile]
    assert sum(r[4] for r in book["Parked"].iter_rows(min_row=2, values_only=True)) == 42

    timing = book["Timing comparison"]
    head = [c.value for c in timing[1]]
    forecast = forecast_window(go_live().run, go_live().previous[0], None)
    by_step = {r[1]: r for r in timing.iter_rows(min_row=2, values_only=True) if r[1]}
    for f in forecast.steps:
        assert by_step[f.step][head.index("Forecast min")] == round(f.forecast_s / 60, 1)
    assert by_step["load"][head.index("DR-20240520-080000 min")] == round(1900 / 60, 1)


def test_the_pdf_is_printed(written):
    data = written["go-live"]["pdf"].read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) > 0


def test_chromium_draws_the_charts_offline(written, tmp_path):
    path = written["go-live"]["html"]
    dom = browser.dump_dom(path)
    assert dom.count("<svg") == 2 and "GL-20240615-200000" in dom
    png = browser.screenshot(path, tmp_path / "report.png", width=1280, height=3000)
    _, _, pixels = _png_colours(png)
    assert pixels[_rgb(charts.COLOURS["good"])] > 500  # passed steps' bars
    assert pixels[_rgb(charts.COLOURS["bad"])] > 100  # the failed step's bar
    assert pixels[_rgb(charts.COLOURS["filled"])] > 1000  # planned durations behind them
    assert pixels[_rgb(charts.COLOURS["bar"])] > 500  # the parked records chart


def test_the_same_report_gives_the_same_page():
    assert render(go_live()) == render(go_live())


def test_no_chromium_is_one_clear_line_unless_the_pdf_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CHROMIUM", "no-such-chromium")
    with pytest.raises(browser.BrowserError) as e:
        write_run_report(rehearsal(), tmp_path)
    assert "\n" not in str(e.value) and "index.pdf" in str(e.value)
    assert not (tmp_path / "DR-20240601-080000").exists()  # nothing half-written
    paths = write_run_report(rehearsal(), tmp_path, pdf=False)
    assert sorted(paths) == ["html", "json", "xlsx"]
    assert all(p.is_file() for p in paths.values())
