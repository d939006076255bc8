"""A checklist run's report as plain data, and what the report derives from it.

The run report is written from these records alone, so it needs nothing from the checklist
engine: the engine fills them from its ledger (``runs``, ``run_steps``, the job's gates,
reconcile and parked records). They hold only what may be shared with a client: run and job
ids, step ids and titles, statuses, timings, counts, rule names and code values, never a
patient's value.

Timestamps are ISO 8601 text as the ledger stores them (``datetime`` objects are accepted
too); durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

# Steps whose duration grows with the snapshot; manual steps take as long as people take.
DATA_DEPENDENT_KINDS = ("notebook", "command")


@dataclass(frozen=True)
class StepRecord:
    seq: int
    step: str  # the step's id in the checklist
    title: str
    kind: str  # command | notebook | manual
    planned_s: float | None
    started_at: str | datetime | None
    ended_at: str | datetime | None
    duration_s: float | None  # wall clock from start to end, waiting included
    waiting_s: float | None  # the part of it spent waiting for a person
    status: str  # pending | running | waiting | passed | failed | skipped
    operator: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    artefact: str | None = None  # relative path of the step's rendered notebook html or log


@dataclass(frozen=True)
class RunRecord:
    id: str
    checklist: str
    kind: str  # rehearsal | go-live
    target: str
    status: str  # running | waiting | finished | failed
    operator: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    started_at: str | datetime | None = None
    ended_at: str | datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)
    # {"decision": "go"|"no-go", "reasons": [...], "signed_off_by": str|None, "at": str}
    decision: dict[str, Any] | None = None
    snapshot_rows: int | None = None

    def step(self, step_id: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step == step_id), None)

    @property
    def planned_s(self) -> float:
        return sum(s.planned_s or 0 for s in self.steps)

    @property
    def actual_s(self) -> float:
        return sum(s.duration_s or 0 for s in self.steps)

    @property
    def wall_clock_s(self) -> float | None:
        start, end = as_datetime(self.started_at), as_datetime(self.ended_at)
        return (end - start).total_seconds() if start and end else None


@dataclass(frozen=True)
class RunReport:
    """Everything one run's report shows."""

    run: RunRecord
    # {gate, ratio, threshold, passed, passed_count, total}
    gates: list[dict[str, Any]] = field(default_factory=list)
    # {balanced, discrepancies: [str], source_lines: [{mapping, source_table, source_rows,
    #  loaded, parked, excluded, balanced}]}
    reconcile: dict[str, Any] | None = None
    # {mapping, source_table, rule, status, rows}
    parked: list[dict[str, Any]] = field(default_factory=list)
    previous: list[RunRecord] = field(default_factory=list)  # earlier runs to compare with
    # The go-live snapshot's size, when it is not this run's own (e.g. from a rehearsal).
    forecast_rows: int | None = None

    @property
    def earlier_runs(self) -> list[RunRecord]:
        """The previous runs, oldest first."""
        return sorted(self.previous, key=lambda r: (_sort_key(r.started_at), r.id))


def as_datetime(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _sort_key(value: str | datetime | None) -> str:
    moment = as_datetime(value)
    return moment.isoformat() if moment else ""


# Timings across runs, step by step.


class StepTimings(NamedTuple):
    seq: int
    step: str
    kind: str
    planned_s: float | None
    actual_s: list[float | None]  # one per run, in the order of ``TimingComparison.runs``


@dataclass(frozen=True)
class TimingComparison:
    runs: list[str]  # run ids, earlier runs first and this run last
    steps: list[StepTimings]

    @property
    def totals_s(self) -> list[float]:
        return [sum(t.actual_s[i] or 0 for t in self.steps) for i in range(len(self.runs))]


def compare_timings(report: RunReport) -> TimingComparison:
    """Each step's actual duration in every run, matched by step id: this run's steps in
    order, then steps only earlier runs had."""
    runs = [*report.earlier_runs, report.run]
    order: dict[str, StepRecord] = {s.step: s for s in sorted(report.run.steps, key=_seq)}
    for earlier in reversed(runs[:-1]):
        for s in sorted(earlier.steps, key=_seq):
            order.setdefault(s.step, s)
    steps = []
    for step_id, first in order.items():
        actual = [(r.step(step_id) or _NO_STEP).duration_s for r in runs]
        steps.append(StepTimings(first.seq, step_id, first.kind, first.planned_s, actual))
    return TimingComparison([r.id for r in runs], steps)


def _seq(s: StepRecord) -> int:
    return s.seq


_NO_STEP = StepRecord(0, "", "", "", None, None, None, None, None, "pending")


# The forecast of the go-live window.


class ForecastStep(NamedTuple):
    step: str
    planned_s: float | None
    basis_s: float | None  # the basis run's actual duration, when it passed
    forecast_s: float
    method: str


@dataclass(frozen=True)
class Forecast:
    steps: list[ForecastStep]
    total_s: float
    basis_run: str  # the run whose timings are scaled
    basis_rows: int | None
    target_rows: int | None
    ratio: float  # target_rows / basis_rows; 1 when either is unknown
    method: str  # the method, in words, for the report

    @property
    def scaled(self) -> bool:
        return self.basis_rows is not None and self.target_rows is not None


def forecast_window(
    run: RunRecord, rehearsal: RunRecord | None, target_rows: int | None
) -> Forecast:
    """How long the go-live's steps will take, from a rehearsal's actual timings.

    Notebook and command steps take the rehearsal's actual duration scaled linearly by
    snapshot size (``target_rows``, else this run's snapshot rows, over the rehearsal's);
    manual steps take their planned duration, or the rehearsal's actual if that was longer.
    A step without a passed timing in the rehearsal takes its planned duration. Without a
    rehearsal, this run is its own basis. The window is the sum of the steps.
    """
    basis = rehearsal or run
    target = target_rows if target_rows is not None else run.snapshot_rows
    scalable = bool(basis.snapshot_rows) and target is not None
    ratio = target / basis.snapshot_rows if scalable else 1.0
    steps = [
        _forecast_step(s, basis.step(s.step), ratio, basis.id)
        for s in sorted(run.steps or basis.steps, key=_seq)
    ]
    return Forecast(
        steps,
        sum(s.forecast_s for s in steps),
        basis.id,
        basis.snapshot_rows,
        target if scalable else None,
        ratio,
        _method(basis, target, ratio, scalable),
    )


def _forecast_step(
    s: StepRecord, b: StepRecord | None, ratio: float, basis_id: str
) -> ForecastStep:
    actual = b.duration_s if b is not None and b.status == "passed" else None
    planned = s.planned_s
    if s.kind in DATA_DEPENDENT_KINDS:
        if actual is not None:
            return ForecastStep(s.step, planned, actual, actual * ratio, f"scaled ×{ratio:.3g}")
        return ForecastStep(
            s.step, planned, None, planned or 0.0, f"planned: no passed timing in {basis_id}"
        )
    if actual is not None and actual > (planned or 0):
        return ForecastStep(s.step, planned, actual, actual, "manual: actual, above plan")
    return ForecastStep(s.step, planned, actual, planned or 0.0, "manual: planned")


def _method(basis: RunRecord, target: int | None, ratio: float, scalable: bool) -> str:
    if scalable:
        size = (
            f"scaled linearly by snapshot size ({target:,} / {basis.snapshot_rows:,} rows "
            f"= ×{ratio:.3g})"
        )
    else:
        size = "not scaled, as the snapshot sizes are not both known"
    return (
        f"Forecast from the actual timings of run {basis.id}: each notebook or command step "
        f"takes its actual duration there, {size}; each manual step takes its planned "
        f"duration, or its actual duration in {basis.id} if that was longer; a step without "
        f"a passed timing in {basis.id} takes its planned duration. The window is the sum of "
        "the steps run one after another, without pauses between them. It is an estimate: "
        "durations are assumed to grow in proportion to the number of rows."
    )


def forecast_basis(report: RunReport) -> RunRecord | None:
    """The run a report's forecast scales: the latest earlier rehearsal, else the latest
    earlier run, else none (the run is then its own basis)."""
    earlier = report.earlier_runs
    rehearsals = [r for r in earlier if r.kind == "rehearsal"]
    return (rehearsals or earlier or [None])[-1]


def report_forecast(report: RunReport) -> Forecast:
    return forecast_window(report.run, forecast_basis(report), report.forecast_rows)
