"""Exact statistics of one column, computed in DuckDB from its frequency table.

One scan of the table groups the column into ``wb_values`` (value, rows, pattern): one row
per distinct value, which DuckDB spills to disk when it is large. NULLs, blanks and sentinel
nulls are counted and dropped from it; everything else is read from that table, which is
usually far smaller than the column: distinct values, rare values, lengths, min/max, top
values, samples, patterns, date formats, and, weighted by rows, mean, standard deviation,
exact quartiles and histograms.

``ColumnFacts`` holds raw values and is internal to the profiler: ``privacy`` decides what of
it may be shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb

from workbench.profile import infer
from workbench.profile.patterns import (
    GUARDS,
    IDENTIFYING_PATTERNS,
    INTEGER_RE,
    NUMBER_RE,
    pattern_sql,
    shown_sql,
)
from workbench.snapshot.staging import quote_ident, sql_list, sql_string

# Text that stands for "no value" in legacy exports, compared case-insensitively after trim.
# The one place this list is kept.
SENTINEL_NULLS = (
    "NULL", "N/A", "NA", "#N/A", "NONE", "UNKNOWN", "-", "?",
    "0000-00-00", "0000-00-00 00:00:00",
)  # fmt: skip
_SENTINEL_MAX_LENGTH = max(len(s) for s in SENTINEL_NULLS)


SAMPLE_SIZE = 5
HISTOGRAM_BINS = 10
QUARTILES = (0.25, 0.5, 0.75)


@dataclass
class NumericFacts:
    mean: float | None
    std: float | None
    q25: float | None
    median: float | None
    q75: float | None
    integral: bool
    histogram: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class ColumnFacts:
    """Everything the profiler learnt about a column, raw: never shown as it is."""

    table: str
    name: str
    position: int
    declared_type: str | None
    storage_type: str
    n_rows: int = 0
    n_null: int = 0
    n_blank: int = 0
    sentinels: dict[str, int] = field(default_factory=dict)
    n_distinct: int = 0  # distinct non-empty values
    n_rare: int = 0  # distinct non-empty values seen fewer than min_count times
    min_length: int | None = None
    max_length: int | None = None
    min: tuple[str, int] | None = None  # (value, rows with that value)
    max: tuple[str, int] | None = None
    numeric: NumericFacts | None = None
    leading_zero_values: int = 0
    date_formats: dict[str, int] = field(default_factory=dict)
    years: list[tuple[int, int]] = field(default_factory=list)
    two_digit_year_rows: int = 0  # their century is a guess (see infer.pivot_year)
    top_values: list[tuple[str, int]] = field(default_factory=list)  # only rows >= min_count
    samples: list[str] = field(default_factory=list)  # only values seen >= min_count times
    patterns: list[tuple[str, int]] = field(default_factory=list)  # top patterns, all counts
    # Rows whose pattern has a shape: 'number', 'integer', 'date_shape', 'ssn', 'phone', 'email'
    shape_rows: dict[str, int] = field(default_factory=dict)
    spaced_rows: int = 0  # rows whose trimmed value holds a space
    boolean_values: set[str] = field(default_factory=set)  # canonical, when few

    @property
    def n_non_empty(self) -> int:
        return self.n_rows - self.n_null - self.n_blank - sum(self.sentinels.values())

    @property
    def date_rows(self) -> int:
        return sum(self.date_formats.values())

    @property
    def storage_kind(self) -> str:
        return infer.storage_kind(self.storage_type)


@dataclass(frozen=True)
class ColumnRef:
    table: str
    name: str
    position: int
    storage_type: str
    declared_type: str | None

    @property
    def relation(self) -> str:
        return f"snap.main.{quote_ident(self.table)}"


def profile_column(
    con: duckdb.DuckDBPyConnection, column: ColumnRef, min_count: int, top_k: int
) -> ColumnFacts:
    """All facts of ``column``: one scan of its table, then queries on its frequency table."""
    facts = ColumnFacts(
        column.table, column.name, column.position, column.declared_type, column.storage_type
    )
    kind = facts.storage_kind
    con.execute(_frequency_table_sql(column, kind))
    _empties(con, facts, kind)
    _counts(con, facts, kind, min_count)
    if facts.n_non_empty == 0 or kind == "binary":
        return facts
    _patterns(con, facts, top_k)
    _values(con, facts, min_count, top_k)
    numeric_text = kind == "text" and facts.shape_rows.get("number") == facts.n_non_empty
    if kind in ("integer", "numeric") or numeric_text:
        _numbers(con, facts, kind)
    if facts.shape_rows.get("date_shape") and kind in ("text", "integer", "date", "datetime"):
        _dates(con, facts, kind)
    return facts


# -- the frequency table -------------------------------------------------------------------


def _text(kind: str) -> str:
    return "v" if kind == "text" else "CAST(v AS VARCHAR)"


def trimmed_sql(x: str) -> str:
    """SQL: ``trim(x)``, computed only for text that has a space at either end (trim is slow)."""
    return f"CASE WHEN {x} LIKE ' %' OR {x} LIKE '% ' THEN trim({x}) ELSE {x} END"


def empty_sql(x: str, storage_type: str) -> str:
    """SQL: column ``x`` holds no value: NULL, or text that is blank or a sentinel null.

    Meant for a WHERE clause, where DuckDB evaluates the costly trims only for the short or
    padded values that pass the cheap tests first.
    """
    if infer.storage_kind(storage_type) != "text":
        return f"({x} IS NULL)"
    sentinels = ", ".join(f"'{s}'" for s in SENTINEL_NULLS)
    first = sorted({c for s in SENTINEL_NULLS for c in (s[0].upper(), s[0].lower())})
    starts = " OR ".join(f"starts_with({x}, '{c}')" for c in first)
    short = f"strlen({x}) <= {_SENTINEL_MAX_LENGTH} AND ({starts})"
    maybe = f"{x} = '' OR starts_with({x}, ' ') OR ends_with({x}, ' ') OR ({short})"
    return f"({x} IS NULL OR (({maybe}) AND (trim({x}) = '' OR upper(trim({x})) IN ({sentinels}))))"


def non_empty_sql(x: str, storage_type: str) -> str:
    """SQL: column ``x`` holds a value: not NULL, and for text neither blank nor a sentinel."""
    return f"NOT {empty_sql(x, storage_type)}"


def _frequency_table_sql(column: ColumnRef, kind: str) -> str:
    pattern = "NULL::VARCHAR" if kind == "binary" else pattern_sql(_text(kind))
    return (
        f"CREATE OR REPLACE TEMP TABLE wb_values AS SELECT v, n, {pattern} AS pattern FROM ("
        f"SELECT {quote_ident(column.name)} AS v, count(*) AS n "
        f"FROM {column.relation} GROUP BY ALL)"
    )


def _empties(con, facts: ColumnFacts, kind: str) -> None:
    """Count NULLs, blanks and sentinels, then drop them: wb_values keeps values only."""
    empty = empty_sql("v", facts.storage_type)
    found = con.execute(
        "SELECT CASE WHEN v IS NULL THEN NULL WHEN trim(CAST(v AS VARCHAR)) = '' THEN '' "
        f"ELSE upper(trim(CAST(v AS VARCHAR))) END AS k, sum(n) FROM wb_values WHERE {empty} "
        "GROUP BY k ORDER BY k"
    ).fetchall()
    for key, n in found:
        if key is None:
            facts.n_null = int(n)
        elif key == "":
            facts.n_blank = int(n)
        else:
            facts.sentinels[key] = int(n)
    if found:
        con.execute(f"DELETE FROM wb_values WHERE {empty}")


def _counts(con, facts: ColumnFacts, kind: str, min_count: int) -> None:
    length = "octet_length(v)" if kind == "binary" else f"length({_text(kind)})"
    extremes = (
        "CAST(min(v) AS VARCHAR), arg_min(n, v), CAST(max(v) AS VARCHAR), arg_max(n, v)"
        if kind != "binary"
        else "NULL, NULL, NULL, NULL"
    )
    row = con.execute(
        f"SELECT coalesce(sum(n), 0), count(*), count(*) FILTER (n < ?), "
        f"min({length}), max({length}), {extremes} FROM wb_values",
        [min_count],
    ).fetchone()
    values, facts.n_distinct, facts.n_rare, facts.min_length, facts.max_length = row[:5]
    facts.n_rows = values + facts.n_null + facts.n_blank + sum(facts.sentinels.values())
    if row[5] is not None:
        facts.min, facts.max = (row[5], row[6]), (row[7], row[8])


# -- patterns, top values, samples ---------------------------------------------------------


def _patterns(con, facts: ColumnFacts, top_k: int) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE wb_patterns AS SELECT pattern, sum(n) AS n "
        "FROM wb_values GROUP BY pattern"
    )
    regexes = {"number": NUMBER_RE, "integer": INTEGER_RE, **IDENTIFYING_PATTERNS}
    shapes = {
        **{k: f"{GUARDS[k]} AND {_full_match('p', rx)}" for k, rx in regexes.items()},
        "date_shape": f"p IN ({infer.date_shapes_sql()})",
        "spaced": "contains(p, ' ')",
    }
    # sum(CASE ...) rather than FILTER: DuckDB evaluates it several times faster here.
    sums = ", ".join(f"coalesce(sum(CASE WHEN {sql} THEN n END), 0)" for sql in shapes.values())
    row = con.execute(
        f"SELECT {sums} FROM (SELECT {trimmed_sql('pattern')} AS p, n FROM wb_patterns)"
    ).fetchone()
    facts.shape_rows = {k: v for k, v in zip(shapes, row, strict=True) if v}
    facts.spaced_rows = facts.shape_rows.pop("spaced", 0)
    facts.patterns = con.execute(
        f"SELECT {shown_sql('pattern')} AS shown, n FROM wb_patterns "
        "ORDER BY n DESC, shown LIMIT ?",
        [top_k],
    ).fetchall()


def _full_match(x: str, regex: str) -> str:
    return f"regexp_full_match({x}, {sql_string(regex)})"


def _values(con, facts: ColumnFacts, min_count: int, top_k: int) -> None:
    text = _text(facts.storage_kind)
    frequent = f"n >= {int(min_count)}"
    facts.top_values = con.execute(
        f"SELECT {text} AS s, n FROM wb_values WHERE {frequent} ORDER BY n DESC, s LIMIT ?",
        [top_k],
    ).fetchall()
    facts.samples = [
        r[0]
        for r in con.execute(
            f"SELECT {text} AS s FROM wb_values WHERE {frequent} "
            f"ORDER BY hash(s), s LIMIT {SAMPLE_SIZE}"
        ).fetchall()
    ]
    if facts.n_distinct <= 4:
        facts.boolean_values = {
            r[0]
            for r in con.execute(f"SELECT DISTINCT upper(trim({text})) FROM wb_values").fetchall()
        }


# -- numbers -------------------------------------------------------------------------------


def _numbers(con, facts: ColumnFacts, kind: str) -> None:
    """Weighted statistics over the distinct values: the same numbers as over every row."""
    x = "CAST(v AS DOUBLE)" if kind != "text" else f"CAST({trimmed_sql('v')} AS DOUBLE)"
    text = "v" if kind == "text" else "NULL::VARCHAR"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE wb_numbers AS SELECT {text} AS v, n, {x} AS x "
        f"FROM wb_values WHERE isfinite({x})"
    )
    total, mean, low, high = con.execute(
        "SELECT sum(n), sum(n * x) / sum(n), min(x), max(x) FROM wb_numbers"
    ).fetchone()
    if not total:
        return
    integral = kind == "integer" or (
        kind == "text" and facts.shape_rows.get("integer") == facts.n_non_empty
    )
    if kind == "text":
        facts.leading_zero_values = con.execute(
            "SELECT count(*) FROM wb_numbers WHERE (v LIKE '0_%' OR v LIKE '_0_%' OR v LIKE ' %') "
            "AND regexp_full_match(trim(v), '[-+]?0[0-9]+(\\.[0-9]*)?')"
        ).fetchone()[0]
        facts.min, facts.max = _text_of(con, low), _text_of(con, high)
    step, start = _bins(low, high, integral)
    spread = con.execute(
        "SELECT floor((x - ?) / ? + 1e-9) AS b, sum(n), sum(n * (x - ?) * (x - ?)) "
        "FROM wb_numbers GROUP BY b ORDER BY b",
        [start, step, mean, mean],
    ).fetchall()
    squares = sum(r[2] for r in spread)
    q25, median, q75 = _quantiles(con, total, low, high)
    facts.numeric = NumericFacts(
        mean=mean,
        std=math.sqrt(squares / (total - 1)) if total > 1 else None,
        q25=q25,
        median=median,
        q75=q75,
        integral=integral,
        histogram=[(_bin_label(start, step, int(b), integral), int(n)) for b, n, _ in spread],
    )


def _text_of(con, x: float) -> tuple[str, int]:
    """For numbers stored as text: the (first) text spelling of number ``x``, with its rows."""
    return con.execute("SELECT v, n FROM wb_numbers WHERE x = ? ORDER BY v LIMIT 1", [x]).fetchone()


QUANTILE_BINS = 4096


def _quantiles(con, total: int, low: float, high: float) -> tuple[float, ...]:
    """``quantile_cont`` over every row, from cumulative counts of the sorted values.

    Sorting every distinct value is costly, so the values are first counted in fine bins;
    only the bins holding the wanted ranks are sorted.
    """
    positions = [q * (total - 1) for q in QUARTILES]
    ranks = sorted({math.floor(p) for p in positions} | {math.ceil(p) for p in positions})
    width = (high - low) / QUANTILE_BINS or 1.0
    bin_of = f"least(floor((x - {low!r}) / {width!r}), {QUANTILE_BINS - 1})"
    counts = con.execute(
        f"SELECT {bin_of} AS b, sum(n) FROM wb_numbers GROUP BY b ORDER BY b"
    ).fetchall()
    at: dict[int, float] = {}
    before = 0
    wanted = iter(ranks)
    rank = next(wanted, None)
    for b, n in counts:
        picks = []
        while rank is not None and rank < before + n:
            picks.append(rank)
            rank = next(wanted, None)
        if picks:
            sql = ", ".join(f"min(x) FILTER (upto > {r - before})" for r in picks)
            row = con.execute(
                f"SELECT {sql} FROM (SELECT x, sum(n) OVER (ORDER BY x ROWS UNBOUNDED PRECEDING) "
                f"AS upto FROM wb_numbers WHERE {bin_of} = ?)",
                [b],
            ).fetchone()
            at.update(zip(picks, row, strict=True))
        before += n
    out = []
    for p in positions:
        lo, hi = at[math.floor(p)], at[math.ceil(p)]
        out.append(lo + (p - math.floor(p)) * (hi - lo))
    return tuple(out)


def _bins(low: float, high: float, integral: bool) -> tuple[float, float]:
    """A round bin width and start, so that about HISTOGRAM_BINS bins cover [low, high].

    Edges are round numbers, not the data's own min and max, so a rare extreme value is not
    shown through a bin label.
    """
    span = high - low
    raw = span / HISTOGRAM_BINS if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integral:
        step = max(1.0, float(math.ceil(step)))
    return step, math.floor(low / step) * step


def _bin_label(start: float, step: float, index: int, integral: bool) -> str:
    lo = start + index * step
    if integral and step == 1:
        return f"{lo:.0f}"
    hi = lo + step
    if integral:
        return f"{lo:.0f}–{hi - 1:.0f}"
    return f"{_num(lo)}–{_num(hi)}"


def _num(x: float) -> str:
    return f"{round(x, 10):g}"


# -- dates ---------------------------------------------------------------------------------


def _dates(con, facts: ColumnFacts, kind: str) -> None:
    # The column's patterns that have a date's shape: few, so the scan filters on them as
    # constants instead of trimming every value's pattern.
    shapes = infer.date_shapes_sql()
    raw = con.execute(
        f"SELECT pattern, {trimmed_sql('pattern')} AS p FROM wb_patterns WHERE p IN ({shapes})"
    ).fetchall()
    padded = any(r != p for r, p in raw)
    text = f"trim({_text(kind)})" if padded else _text(kind)
    rows = con.execute(
        f"SELECT fmt, {infer.date_year_sql()} AS y, sum(n) FROM ("
        f"SELECT t, n, {infer.date_format_sql({p for _, p in raw})} AS fmt FROM ("
        f"SELECT {text} AS t, {'trim(pattern)' if padded else 'pattern'} AS p, n "
        f"FROM wb_values WHERE pattern IN ({sql_list(r for r, _ in raw)}))) "
        "WHERE fmt IS NOT NULL GROUP BY ALL"
    ).fetchall()
    formats: dict[str, int] = {}
    years: dict[int, int] = {}
    for fmt, year, n in rows:
        formats[fmt] = formats.get(fmt, 0) + int(n)
        if year is None:
            continue
        if infer.two_digit_year(fmt):
            facts.two_digit_year_rows += int(n)
            year = infer.pivot_year(int(year))
        years[int(year)] = years.get(int(year), 0) + int(n)
    facts.date_formats = infer.resolve_day_month(formats)
    facts.years = sorted(years.items())
