"""The data migration map's charts, as Altair specifications.

The HTML report renders them to inline SVG; the profile notebook displays them directly.
"""

from __future__ import annotations

import json

import altair as alt

from workbench.profile.model import ColumnProfile, Relationship, TableProfile, ValueCount
from workbench.render.charts import COLOURS

LABEL_CHARS = 36
_PARTS = [
    ("NULL", COLOURS["null"]),
    ("blank", COLOURS["blank"]),
    ("sentinel", COLOURS["sentinel"]),
    ("filled", COLOURS["filled"]),
]
_GRADES = ["complete", "≥ 95 %", "< 95 %"]


def null_rate_chart(t: TableProfile) -> alt.Chart:
    values = []
    for rank, c in enumerate(t.columns):
        counts = (c.n_null, c.n_blank, sum(c.sentinels.values()), c.n_non_empty)
        for order, ((part, _), rows) in enumerate(zip(_PARTS, counts, strict=True)):
            if rows:
                values.append({"rank": rank, "part": part, "rows": rows, "order": order})
    return (
        alt.Chart(alt.Data(values=values))
        .mark_bar()
        .encode(
            y=alt.Y("rank:O", title=None, axis=_rank_axis([c.name for c in t.columns])),
            x=alt.X("rows:Q", stack="normalize", title="share of rows", axis=alt.Axis(format="%")),
            color=alt.Color(
                "part:N",
                title=None,
                scale=alt.Scale(domain=[p for p, _ in _PARTS], range=[c for _, c in _PARTS]),
            ),
            order=alt.Order("order:Q"),
        )
        .properties(width=420, height=alt.Step(14))
    )


def top_values_chart(values: list[ValueCount]) -> alt.LayerChart:
    data = [{"rank": i, "count": v.count} for i, v in enumerate(values)]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("rank:O", title=None, axis=_rank_axis([v.value for v in values])),
        x=alt.X("count:Q", axis=None),
    )
    labels = base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("count:Q", format=",")
    )
    return (base.mark_bar() + labels).properties(width=220, height=alt.Step(14))


def histogram_chart(c: ColumnProfile) -> alt.Chart:
    buckets = [b.value for b in c.histogram]
    data = [{"rank": i, "count": b.count} for i, b in enumerate(c.histogram)]
    every = -(-len(buckets) // 12)  # at most a dozen labels, evenly spaced
    axis = _rank_axis(buckets, shown=range(0, len(buckets), every))
    if max(map(len, buckets)) > 4:
        axis.labelAngle, axis.labelAlign = -40, "right"
    return (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            x=alt.X("rank:O", title=None, axis=axis),
            y=alt.Y("count:Q", title="rows", axis=alt.Axis(format="~s", tickCount=3)),
        )
        .properties(width=min(420, max(160, 12 * len(data))), height=100)
    )


def coverage_chart(rels: list[Relationship]) -> alt.LayerChart:
    data = [
        {
            "rank": i,
            "coverage": r.coverage,
            "grade": _GRADES[0] if r.coverage >= 1 else _GRADES[1 if r.coverage >= 0.95 else 2],
        }
        for i, r in enumerate(rels)
    ]
    links = [f"{r.child_table}.{r.child_column} → {r.parent_table}.{r.parent_column}" for r in rels]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("rank:O", title=None, axis=_rank_axis(links, limit=2 * LABEL_CHARS)),
        x=alt.X("coverage:Q", title="coverage", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%", tickCount=5)),
    )  # fmt: skip
    scale = alt.Scale(domain=_GRADES, range=[COLOURS["good"], COLOURS["warn"], COLOURS["bad"]])
    bars = base.mark_bar().encode(color=alt.Color("grade:N", title="coverage", scale=scale))
    labels = base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("coverage:Q", format=".1%")
    )
    return (bars + labels).properties(width=360, height=alt.Step(16))


def _rank_axis(
    labels: list[str], *, shown: range | None = None, limit: int = LABEL_CHARS
) -> alt.Axis:
    """An axis over row ranks that prints each rank's label, shortened to ``limit`` chars."""
    short = [text if len(text) <= limit else text[: limit - 1] + "…" for text in labels]
    return alt.Axis(
        labelExpr=f"{json.dumps(short)}[datum.value]",
        values=list(shown) if shown is not None else alt.Undefined,
        labelLimit=0,
        labelOverlap=False,
        ticks=False,
        domain=False,
    )
