"""The charts of a run report's page (``workbench.checklist.report``): the Gantt chart of
the run's steps and the bar chart of parked rows by mapping and rule. Each builder returns
an Altair chart for the page's ``ChartSlots``; none reads anything but the report's records.
"""

from __future__ import annotations

import altair as alt

from workbench.checklist.report_model import RunRecord, as_datetime
from workbench.render.charts import COLOURS

__all__ = ["STATUS_COLOURS", "gantt_chart", "parked_chart"]

STATUS_COLOURS = {
    "planned": COLOURS["filled"],
    "passed": COLOURS["good"],
    "failed": COLOURS["bad"],
    "waiting": COLOURS["warn"],
    "running": COLOURS["bar"],
    "skipped": "#9aa5b1",
    "pending": "#9aa5b1",
}


def gantt_chart(run: RunRecord) -> alt.LayerChart | None:
    steps = sorted(run.steps, key=lambda s: s.seq)
    starts = [t for s in steps if (t := as_datetime(s.started_at))]
    t0 = as_datetime(run.started_at) or (min(starts) if starts else None)
    if t0 is None or not starts:
        return None
    labels = [f"{s.seq}. {s.step}" for s in steps]
    planned, actual = [], []
    for label, s in zip(labels, steps, strict=True):
        start, end = as_datetime(s.started_at), as_datetime(s.ended_at)
        if start is None:
            continue
        begin = (start - t0).total_seconds() / 60
        if end is not None:
            finish = (end - t0).total_seconds() / 60
        else:
            finish = begin + (s.duration_s or 0) / 60
        actual.append({"step": label, "start": begin, "end": finish, "series": s.status})
        if s.planned_s:
            planned.append(
                {
                    "step": label,
                    "start": begin,
                    "end": begin + s.planned_s / 60,
                    "series": "planned",
                }
            )
    shown = ["planned", *dict.fromkeys(a["series"] for a in actual)]
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=shown, range=[STATUS_COLOURS.get(k, COLOURS["bar"]) for k in shown]),
    )
    y = alt.Y("step:N", title=None, scale=alt.Scale(domain=labels))
    x = alt.X("start:Q", title="minutes since run start")
    layers = [
        alt.Chart(alt.Data(values=rows), name=name)
        .mark_bar(size=size)
        .encode(y=y, x=x, x2="end:Q", color=colour)
        for name, rows, size in (("gantt_planned", planned, 16), ("gantt_actual", actual, 8))
        if rows
    ]
    return alt.layer(*layers).properties(width=560, height=alt.Step(24))


def parked_chart(by_rule: list[tuple[str, str, int]]) -> alt.LayerChart:
    """Parked rows per (mapping, rule) pair, one labelled bar each, in the given order."""
    data = [{"label": f"{m} · {r}", "rows": n} for m, r, n in by_rule]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("label:N", title=None, sort=[d["label"] for d in data]),
        x=alt.X("rows:Q", title="parked rows", axis=alt.Axis(format="~s", tickCount=4)),
    )
    labels = base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("rows:Q", format=",")
    )
    return (base.mark_bar() + labels).properties(width=360, height=alt.Step(18))
