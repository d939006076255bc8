"""Small views of a job for notebooks: frames and charts of gates, fates and parked rows.

Counts only: no patient value reaches a view.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from workbench.jobs.gates import GateResult


def gates_frame(gates: list[GateResult]) -> pl.DataFrame:
    return pl.DataFrame([g.to_dict() for g in gates]).select(
        "gate", "ratio", "threshold", "passed", "passed_count", "total"
    )


def gates_chart(gates: list[GateResult]) -> alt.Chart:
    frame = gates_frame(gates).with_columns(
        verdict=pl.when(pl.col("passed")).then(pl.lit("pass")).otherwise(pl.lit("fail"))
    )
    bars = (
        alt.Chart(alt.Data(values=frame.to_dicts()))
        .mark_bar()
        .encode(
            x=alt.X("ratio:Q", scale=alt.Scale(domain=[0, 1]), title="share passing"),
            y=alt.Y("gate:N", sort=None, title=None),
            color=alt.Color(
                "verdict:N", scale=alt.Scale(domain=["pass", "fail"], range=["#2e7d32", "#c62828"])
            ),
        )
    )
    ticks = (
        alt.Chart(alt.Data(values=frame.to_dicts()))
        .mark_tick(color="black", thickness=2)
        .encode(x="threshold:Q", y=alt.Y("gate:N", sort=None))
    )
    return (bars + ticks).properties(width=420, height=120, title="Quality gates")


def fates_chart(accounting: pl.DataFrame) -> alt.Chart:
    """Loaded, excluded and parked source rows per mapping and source table."""
    long = accounting.unpivot(
        index=["mapping", "source_table"],
        on=["loaded", "excluded", "parked"],
        variable_name="fate",
        value_name="rows",
    ).with_columns(label=pl.col("mapping") + " ← " + pl.col("source_table"))
    return (
        alt.Chart(alt.Data(values=long.to_dicts()))
        .mark_bar()
        .encode(
            x=alt.X("rows:Q", stack="normalize", title="share of source rows"),
            y=alt.Y("label:N", sort=None, title=None),
            color=alt.Color(
                "fate:N",
                scale=alt.Scale(
                    domain=["loaded", "excluded", "parked"], range=["#2e7d32", "#9e9e9e", "#ef6c00"]
                ),
            ),
            tooltip=["mapping:N", "source_table:N", "fate:N", "rows:Q"],
        )
        .properties(width=420, title="Fate of every source row")
    )


def parked_chart(summary: pl.DataFrame) -> alt.Chart | None:
    if summary.is_empty():
        return None
    frame = summary.group_by("rule").agg(pl.col("rows").sum()).sort("rows", descending=True)
    return (
        alt.Chart(alt.Data(values=frame.to_dicts()))
        .mark_bar(color="#ef6c00")
        .encode(
            x=alt.X("rows:Q", title="parked source rows"), y=alt.Y("rule:N", sort="-x", title=None)
        )
        .properties(width=420, title="Parked records by rule")
    )
