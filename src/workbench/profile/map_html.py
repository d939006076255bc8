"""The data migration map as one offline HTML page, for the client's SMEs.

The page reads top-down the way a mapping workshop does: what the snapshot is and which
privacy rules shaped it, which tables there are and how they hang together, then each
table's columns with their fill rates, values, dates and shapes. It lays out a ``Profile``
and nothing else: every value on the page is one the profiler already cleared for sharing.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt

from workbench.profile.map_charts import (
    coverage_chart,
    histogram_chart,
    null_rate_chart,
    top_values_chart,
)
from workbench.profile.model import (
    ColumnProfile,
    Profile,
    TableProfile,
)
from workbench.render import page
from workbench.render.charts import ChartSlots
from workbench.render.page import Markup, esc, fmt_int, fmt_num, fmt_pct, tag

FILE_NAME = "data-migration-map.html"
# A column gets one chart: its histogram if it has one, else its most frequent values.
TOP_VALUES_CHARTED = 10
TOP_VALUES_LISTED = 5  # beside a histogram, as a table
PATTERNS_LISTED = 10
SAMPLES_LISTED = 5
DATE_TYPES = ("date", "datetime")


def write(profile: Profile, path: Path) -> Path:
    """Write the map to ``path``, or into it as ``data-migration-map.html`` if it is a
    directory or has no ``.html`` suffix (such as ``reports/<snapshot>``)."""
    if path.is_dir() or path.suffix.lower() not in (".html", ".htm"):
        path = path / FILE_NAME
    return page.write(render(profile), path)


def render(profile: Profile) -> str:
    anchors = _Anchors.of(profile)
    slots = ChartSlots()
    body = page.join(
        [
            _summary(profile),
            _tables_overview(profile, anchors),
            _relationships(profile, anchors, slots),
            *(_table_section(t, profile, anchors, slots) for t in profile.tables),
        ]
    )
    nav = [
        page.TocEntry("summary", "Summary"),
        page.TocEntry("tables", "Tables"),
        page.TocEntry("relationships", "Relationships"),
        *(page.TocEntry(anchors.table[t.name], t.name) for t in profile.tables),
    ]
    html = page.page(
        f"Data migration map: {profile.snapshot}",
        body,
        nav=nav,
        subtitle=f"Snapshot {profile.snapshot}, profiled by workbench {profile.tool_version}",
    )
    return slots.fill(html)


class _Anchors:
    """Element ids for every table and column, so any part of the page can link to them."""

    def __init__(self) -> None:
        self.ids = page.Anchors({"summary", "tables", "relationships"})
        self.table: dict[str, str] = {}
        self.column: dict[tuple[str, str], str] = {}

    @classmethod
    def of(cls, profile: Profile) -> _Anchors:
        a = cls()
        for t in profile.tables:
            a.table[t.name] = a.ids.new("table", t.name)
            for c in t.columns:
                a.column[(t.name, c.name)] = a.ids.new("col", t.name, c.name)
        return a

    def table_link(self, name: str) -> Markup:
        return page.link("#" + self.table[name], name) if name in self.table else esc(name)

    def column_link(self, table: str, column: str) -> Markup:
        anchor = self.column.get((table, column))
        return page.link("#" + anchor, column) if anchor else esc(column)

    def qualified(self, table: str, column: str) -> Markup:
        return Markup(f"{self.table_link(table)}.{self.column_link(table, column)}")


# The page's sections, top to bottom.


def _summary(profile: Profile) -> Markup:
    policy = profile.policy
    columns = [c for t in profile.tables for c in t.columns]
    masked = sum(c.masked for c in columns)
    identifiers = (
        "shown unmasked (internal use only)"
        if policy.show_identifiers
        else f"masked ({masked:,} columns recognised as names, SSNs, dates of birth, "
        "phones, addresses or MRNs)"
    )
    approximations = (
        Markup("<ul>" + page.join(tag("li", a) for a in profile.approximations) + "</ul>")
        if profile.approximations
        else "none: every count and statistic is exact"
    )
    rows = [
        ("Snapshot", profile.snapshot),
        ("Fingerprint", tag("code", profile.fingerprint)),
        ("Profiled by", f"workbench {profile.tool_version}"),
        ("Minimum cell count", f"{policy.min_cell_count}: a value seen fewer times is not shown"),
        ("Identifier columns", identifiers),
        ("Tables", fmt_int(len(profile.tables))),
        ("Columns", fmt_int(len(columns))),
        ("Rows", fmt_int(sum(t.n_rows for t in profile.tables))),
        ("Inferred relationships", fmt_int(len(profile.relationships))),
        ("Approximations", approximations),
    ]
    return _section("summary", "Summary", page.facts(rows))


def _tables_overview(profile: Profile, anchors: _Anchors) -> Markup:
    rows = [
        (
            anchors.table_link(t.name),
            fmt_int(t.n_rows),
            fmt_int(t.n_columns),
            _empty_columns(t),
            _keys(t.candidate_keys),
            fmt_int(sum(c.masked for c in t.columns)),
            t.description,
        )
        for t in profile.tables
    ]
    headers = [
        "Table", "Rows", "Columns", "Empty columns", "Candidate keys", "Masked columns",
        "Description",
    ]  # fmt: skip
    return _section("tables", "Tables", page.table(headers, rows, numeric=(1, 2, 5)))


def _empty_columns(t: TableProfile) -> str:
    empty = t.empty_columns
    return f"{len(empty):,} ({', '.join(empty)})" if empty else "0"


def _relationships(profile: Profile, anchors: _Anchors, slots: ChartSlots) -> Markup:
    rels = profile.relationships
    if not rels:
        return _section(
            "relationships",
            "Relationships",
            tag("p", "No foreign keys were inferred between the tables.", cls="note"),
        )
    rows = [
        (
            anchors.qualified(r.child_table, r.child_column),
            anchors.qualified(r.parent_table, r.parent_column),
            fmt_pct(r.coverage),
            fmt_int(r.child_rows),
            fmt_int(r.orphan_rows),
            fmt_int(r.orphan_values),
            fmt_int(r.parent_duplicate_keys),
        )
        for r in rels
    ]
    headers = [
        "Child column", "Parent column", "Coverage", "Child rows", "Orphan rows",
        "Orphan values", "Duplicate parent keys",
    ]  # fmt: skip
    note = tag(
        "p",
        "Coverage is the share of the child column's distinct values found in the parent "
        "column; orphan rows hold a value the parent does not have.",
        cls="note",
    )
    chart = _chart(slots, coverage_chart(rels))
    return _section(
        "relationships",
        "Relationships",
        page.join([note, page.table(headers, rows, numeric=(2, 3, 4, 5, 6)), chart]),
    )


def _table_section(
    t: TableProfile, profile: Profile, anchors: _Anchors, slots: ChartSlots
) -> Markup:
    links = [
        f"{anchors.column_link(t.name, r.child_column)} → "
        f"{anchors.qualified(r.parent_table, r.parent_column)}"
        for r in profile.relationships
        if r.child_table == t.name
    ] + [
        f"{anchors.qualified(r.child_table, r.child_column)} → "
        f"{anchors.column_link(t.name, r.parent_column)}"
        for r in profile.relationships
        if r.parent_table == t.name
    ]
    about = page.facts(
        [
            ("Rows", fmt_int(t.n_rows)),
            ("Columns", fmt_int(t.n_columns)),
            ("Empty columns", _empty_columns(t)),
            ("Candidate keys", _keys(t.candidate_keys) or "none found"),
            ("Relationships", Markup("; ".join(links)) or "none inferred"),
        ]
    )
    parts = [
        tag("p", t.description, cls="note") if t.description else "",
        about,
    ]
    if t.columns and t.n_rows:
        parts += [tag("h4", "Empty values per column"), _chart(slots, null_rate_chart(t))]
    parts += [
        _columns_table(t, anchors),
        Markup(
            '<div class="cards">'
            + "".join(
                _column_card(c, anchors.column[(t.name, c.name)], profile, slots) for c in t.columns
            )
            + "</div>"
        ),
    ]
    return _section(anchors.table[t.name], f"Table {t.name}", page.join(parts))


def _columns_table(t: TableProfile, anchors: _Anchors) -> Markup:
    rows = [
        (
            anchors.column_link(t.name, c.name),
            c.declared_type or c.storage_type,
            c.inferred_type + (" (masked)" if c.masked else ""),
            fmt_pct(1 - c.fraction_empty) if c.n_rows else "",
            fmt_int(c.n_null),
            fmt_int(c.n_blank),
            fmt_int(sum(c.sentinels.values())),
            fmt_int(c.n_distinct),
            "" if c.masked else c.min,
            "" if c.masked else c.max,
        )
        for c in t.columns
    ]
    headers = [
        "Column", "Declared type", "Inferred type", "Filled", "NULL", "Blank", "Sentinel",
        "Distinct", "Min", "Max",
    ]  # fmt: skip
    return page.table(headers, rows, numeric=(3, 4, 5, 6, 7))


def _column_card(c: ColumnProfile, anchor: str, profile: Profile, slots: ChartSlots) -> Markup:
    badges = tag("span", c.inferred_type, cls="badge")
    if c.masked:
        badges += tag("span", f"identifier: {c.identifier_kind or 'yes'}", cls="badge masked")
    parts = [Markup(f'<h3 id="{esc(anchor)}">{esc(c.name)}{badges}</h3>'), _column_facts(c)]
    if c.masked:
        parts.append(
            tag(
                "p",
                "Values masked: this column identifies people, so its individual values, "
                "samples and extremes are not shown.",
                cls="note masked-note",
            )
        )
    values = c.top_values if not c.masked else []
    if c.histogram:
        title = "Rows over time" if c.inferred_type in DATE_TYPES else "Distribution"
        parts += [tag("h4", title), _chart(slots, histogram_chart(c))]
        if values:
            top = [(v.value, fmt_int(v.count)) for v in values[:TOP_VALUES_LISTED]]
            parts += [
                tag("h4", "Most frequent values"),
                page.table(["Value", "Rows"], top, numeric=(1,)),
            ]
    elif values:
        shown = values[:TOP_VALUES_CHARTED]
        parts += [tag("h4", "Most frequent values"), _chart(slots, top_values_chart(shown))]
    if c.suppressed_values:
        parts.append(
            tag(
                "p",
                f"{c.suppressed_values:,} distinct values seen fewer than "
                f"{profile.policy.min_cell_count} times are not shown.",
                cls="note",
            )
        )
    if c.date_formats:
        formats = sorted(c.date_formats.items(), key=lambda kv: (-kv[1], kv[0]))
        parts += [
            tag("h4", "Date formats found"),
            page.table(["Format", "Rows"], [(tag("code", f), fmt_int(n)) for f, n in formats],
                       numeric=(1,)),
        ]  # fmt: skip
    if c.patterns:
        parts += [
            tag("h4", "Value patterns"),
            page.table(
                ["Pattern", "Rows"],
                [(tag("code", p.value), fmt_int(p.count)) for p in c.patterns[:PATTERNS_LISTED]],
                numeric=(1,),
            ),
        ]
    if c.samples and not c.masked:
        samples = page.join((tag("code", s) for s in c.samples[:SAMPLES_LISTED]), ", ")
        parts.append(Markup(f'<p class="note">Samples: {samples}</p>'))
    return tag("div", page.join(parts), cls="card")


def _column_facts(c: ColumnProfile) -> Markup:
    declared = c.declared_type or "(none)"
    rows: list[tuple[str, object]] = [
        ("Type", f"declared {declared}, staged as {c.storage_type}, looks like {c.inferred_type}"),
        ("Filled", f"{c.n_non_empty:,} of {c.n_rows:,} rows ({fmt_pct(1 - c.fraction_empty)})"),
        ("Empty", _empty_breakdown(c)),
        ("Distinct", f"{c.n_distinct:,} ({fmt_pct(c.fraction_unique)} unique)"),
    ]
    if c.min_length is not None:
        rows.append(("Length", f"{c.min_length:,} to {c.max_length:,} characters"))
    if not c.masked and (c.min is not None or c.max is not None):
        rows += [("Min", c.min), ("Max", c.max)]
    if c.mean is not None:
        rows.append(("Mean ± SD", f"{fmt_num(c.mean)} ± {fmt_num(c.std)}"))
    if c.median is not None:
        quartiles = f"{fmt_num(c.q25)} / {fmt_num(c.median)} / {fmt_num(c.q75)}"
        rows.append(("Q1 / median / Q3", quartiles))
    return page.facts(rows)


def _empty_breakdown(c: ColumnProfile) -> str:
    parts = [f"{c.n_null:,} NULL", f"{c.n_blank:,} blank"]
    parts += [f"{n:,} {text!r}" for text, n in sorted(c.sentinels.items())]
    return ", ".join(parts)


def _section(anchor: str, title: str, body: Markup) -> Markup:
    return Markup(f'<section id="{esc(anchor)}">{tag("h2", title)}{body}</section>')


def _chart(slots: ChartSlots, chart: alt.TopLevelMixin) -> Markup:
    return Markup(f'<div class="chart">{slots.add(chart)}</div>')


def _keys(keys: list[list[str]]) -> str:
    return ", ".join(k[0] if len(k) == 1 else "(" + ", ".join(k) + ")" for k in keys)


# The charts: small, static, one idea each. Vega measures every label it truncates or
# checks for overlap, and that measuring is most of a chart's cost; so rows are keyed by
# their rank, labels are shortened here and looked up by rank, and nothing is measured twice.
