"""Small views of a profile for notebooks: frames to display and a chart per column.

They show only what the profile holds, so they are as PHI-safe as the profile itself.
"""

from __future__ import annotations

from dataclasses import asdict

import altair as alt
import polars as pl

from workbench.profile.map_charts import histogram_chart, top_values_chart
from workbench.profile.model import ColumnProfile, Profile

_STATS = (
    "declared_type", "storage_type", "inferred_type", "n_rows", "n_non_empty", "n_null",
    "n_blank", "n_distinct", "min", "max", "mean", "std", "q25", "median", "q75",
    "min_length", "max_length", "identifier_kind", "masked", "suppressed_values",
)  # fmt: skip


def tables_frame(profile: Profile) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "table": t.name,
                "rows": t.n_rows,
                "columns": t.n_columns,
                "empty columns": len(t.empty_columns),
                "candidate keys": ", ".join("+".join(k) for k in t.candidate_keys),
            }
            for t in profile.tables
        ]
    )


def relationships_frame(profile: Profile) -> pl.DataFrame:
    rows = [asdict(r) for r in profile.relationships]
    return (
        pl.DataFrame(rows)
        if rows
        else pl.DataFrame({"relationship": []}, schema={"relationship": pl.Utf8})
    )


def column_frame(column: ColumnProfile) -> pl.DataFrame:
    """One column's statistics as (statistic, value) rows."""
    facts = {name: getattr(column, name) for name in _STATS}
    facts["fraction_empty"] = round(column.fraction_empty, 4)
    facts["sentinels"] = column.sentinels or None
    facts["date_formats"] = column.date_formats or None
    facts["top_patterns"] = [f"{p.value} ({p.count})" for p in column.patterns[:5]] or None
    return pl.DataFrame(
        {"statistic": list(facts), "value": ["" if v is None else str(v) for v in facts.values()]}
    )


def column_chart(column: ColumnProfile) -> alt.TopLevelMixin | None:
    """The column's histogram if it has one, else its most frequent values, else nothing."""
    if column.histogram:
        return histogram_chart(column)
    if column.top_values and not column.masked:
        return top_values_chart(column.top_values[:10])
    return None
