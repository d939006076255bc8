"""What a column holds, in the words SMEs use: its inferred type and its date formats.

Date formats are recognised in two steps: a value's pattern must have the format's shape
(``9999-99-99``), and DuckDB's ``try_strptime`` must read it as a real date, so that
``2019-02-30`` or an 8-digit account number is not taken for a date. A new format is a new row
in ``DATE_FORMATS``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

from workbench.snapshot.staging import sql_list

if TYPE_CHECKING:
    from workbench.profile.columns import ColumnFacts


def _shapes(*templates: str) -> tuple[str, ...]:
    """Expand ``D`` (one or two digits) in shape templates: ``D/D/9999`` -> ``9/9/9999`` ..."""
    out: list[str] = []
    for template in templates:
        parts = template.split("D")
        for widths in product(("9", "99"), repeat=len(parts) - 1):
            out.append("".join(p + w for p, w in zip(parts, (*widths, ""), strict=True)))
    return tuple(out)


@dataclass(frozen=True)
class DateFormat:
    name: str
    shapes: tuple[str, ...]  # trimmed value patterns this format can have
    strptime: str  # DuckDB format string that must read the value
    year: str  # SQL for the year's digits in trimmed text ``t``
    has_time: bool = False
    two_digit_year: bool = False
    extra_sql: str = ""  # a further condition on the trimmed text ``t``


FIRST4, LAST4, LAST2 = "left(t, 4)", "right(t, 4)", "right(t, 2)"
SLASH_SHAPES = _shapes("D/D/9999")
MONTH_FIRST, DAY_FIRST, EITHER_FIRST = "MM/DD/YYYY", "DD/MM/YYYY", "??/??/YYYY"

DATE_FORMATS: tuple[DateFormat, ...] = (
    DateFormat("YYYY-MM-DD", _shapes("9999-D-D"), "%Y-%m-%d", FIRST4),
    DateFormat("YYYY-MM-DD HH:MM:SS", ("9999-99-99 99:99:99",), "%Y-%m-%d %H:%M:%S", FIRST4, True),
    DateFormat(
        "YYYY-MM-DD HH:MM:SS.fff",
        tuple(f"9999-99-99 99:99:99.{'9' * k}" for k in range(1, 10)),
        "%Y-%m-%d %H:%M:%S.%f",
        FIRST4,
        True,
    ),
    DateFormat("YYYY-MM-DD HH:MM", ("9999-99-99 99:99",), "%Y-%m-%d %H:%M", FIRST4, True),
    DateFormat("YYYY-MM-DDTHH:MM:SS", ("9999-99-99A99:99:99",), "%Y-%m-%dT%H:%M:%S", FIRST4, True),
    DateFormat(
        "YYYY-MM-DDTHH:MM:SSZ", ("9999-99-99A99:99:99A",), "%Y-%m-%dT%H:%M:%SZ", FIRST4, True
    ),
    DateFormat("YYYY/MM/DD", _shapes("9999/D/D"), "%Y/%m/%d", FIRST4),
    DateFormat(MONTH_FIRST, SLASH_SHAPES, "%m/%d/%Y", LAST4),
    DateFormat(DAY_FIRST, SLASH_SHAPES, "%d/%m/%Y", LAST4),
    DateFormat("MM/DD/YY", _shapes("D/D/99"), "%m/%d/%y", LAST2, two_digit_year=True),
    DateFormat("DD.MM.YYYY", _shapes("D.D.9999"), "%d.%m.%Y", LAST4),
    # Eight digits are a date only in a plausible range: account numbers are eight digits too.
    DateFormat(
        "YYYYMMDD", ("99999999",), "%Y%m%d", FIRST4, extra_sql="t BETWEEN '18000101' AND '21991231'"
    ),
    DateFormat("DD-Mon-YY", _shapes("D-AAA-99"), "%d-%b-%y", LAST2, two_digit_year=True),
    DateFormat("DD-Mon-YYYY", _shapes("D-AAA-9999"), "%d-%b-%Y", LAST4),
)
DATE_SHAPES: tuple[str, ...] = tuple(sorted({s for f in DATE_FORMATS for s in f.shapes}))
_BY_NAME = {f.name: f for f in DATE_FORMATS}


def _parses(fmt: DateFormat) -> str:
    return f"try_strptime(t, '{fmt.strptime}') IS NOT NULL"


def date_format_sql(present_shapes: set[str]) -> str:
    """SQL naming the date format of trimmed text ``t`` with trimmed pattern ``p``, or NULL.

    Only formats whose shapes are in ``present_shapes`` (those the column has) are tried. A
    slash date that reads both ways (``03/04/2020``) is named EITHER_FIRST; the column as a
    whole decides it (``resolve_day_month``).
    """
    md, dm = _BY_NAME[MONTH_FIRST], _BY_NAME[DAY_FIRST]
    whens = []
    for f in DATE_FORMATS:
        shapes = sorted(present_shapes & set(f.shapes))
        if f in (md, dm) or not shapes:
            continue
        condition = f"p IN ({sql_list(shapes)}) AND {_parses(f)}"
        if f.extra_sql:
            condition += f" AND {f.extra_sql}"
        whens.append(f"WHEN {condition} THEN '{f.name}'")
    slashes = sorted(present_shapes & set(SLASH_SHAPES))
    if slashes:
        whens.append(
            f"WHEN p IN ({sql_list(slashes)}) THEN CASE "
            f"WHEN {_parses(md)} AND {_parses(dm)} THEN '{EITHER_FIRST}' "
            f"WHEN {_parses(md)} THEN '{MONTH_FIRST}' WHEN {_parses(dm)} THEN '{DAY_FIRST}' END"
        )
    return "CASE " + " ".join(whens) + " END" if whens else "NULL"


def date_year_sql() -> str:
    """SQL for the year digits of trimmed text ``t`` whose format is named ``fmt``."""
    by_year = {}
    for f in DATE_FORMATS:
        by_year.setdefault(f.year, []).append(f.name)
    by_year.setdefault(LAST4, []).append(EITHER_FIRST)
    whens = " ".join(f"WHEN fmt IN ({sql_list(n)}) THEN {sql}" for sql, n in by_year.items())
    return f"TRY_CAST(CASE {whens} END AS INTEGER)"


def date_shapes_sql() -> str:
    return sql_list(DATE_SHAPES)


def resolve_day_month(counts: dict[str, int]) -> dict[str, int]:
    """Give slash dates that read both ways to the order the rest of the column shows.

    Day-first only when some value can only be day-first (``13/04/2020``) and none can only be
    month-first; otherwise month-first, the US legacy default.
    """
    counts = {k: v for k, v in counts.items() if v}
    either = counts.pop(EITHER_FIRST, 0)
    if either:
        day_first = counts.get(DAY_FIRST, 0) > 0 and counts.get(MONTH_FIRST, 0) == 0
        target = DAY_FIRST if day_first else MONTH_FIRST
        counts[target] = counts.get(target, 0) + either
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def has_time(format_name: str) -> bool:
    f = _BY_NAME.get(format_name)
    return bool(f and f.has_time)


def two_digit_year(format_name: str) -> bool:
    f = _BY_NAME.get(format_name)
    return bool(f and f.two_digit_year)


def pivot_year(year: int, today: dt.date | None = None) -> int:
    """A two-digit year (0-99) lands in the latest century that does not put it in the future."""
    this_year = (today or dt.date.today()).year
    century = this_year - this_year % 100
    return century + year if century + year <= this_year else century - 100 + year


# -- names ---------------------------------------------------------------------------------


def name_tokens(name: str) -> list[str]:
    """``'FirstName'``, ``'first_name'`` and ``'FIRST NAME'`` all give ``['first', 'name']``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


KEY_SUFFIXES = ("id", "key", "no", "num", "number", "nbr", "code", "uid", "guid")
CODE_WORDS = ("code", "cd", "type", "status", "flag", "class", "category", "kind")


def looks_like_key(name: str) -> bool:
    tokens = name_tokens(name)
    joined = "".join(tokens)
    return bool(tokens) and (
        tokens[-1] in KEY_SUFFIXES or joined.endswith(("id", "uid", "guid")) or joined == "key"
    )


def looks_like_code(name: str) -> bool:
    tokens = name_tokens(name)
    return any(t in CODE_WORDS or t.endswith("code") for t in tokens)


# -- types ---------------------------------------------------------------------------------

NUMERIC_STORAGE = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
)  # fmt: skip
INTEGER_STORAGE = NUMERIC_STORAGE[:10]
TEXT_STORAGE = ("VARCHAR",)
BINARY_STORAGE = ("BLOB", "BIT")

BOOLEAN_PAIRS = (
    {"0", "1"}, {"Y", "N"}, {"YES", "NO"}, {"T", "F"}, {"TRUE", "FALSE"},
)  # fmt: skip

CODE_MAX_DISTINCT = 1000
CODE_MAX_LENGTH = 64
FREE_TEXT_LENGTH = 100
DATE_SHARE = 0.9  # of non-empty rows, for a text column to be a date column
UNIQUE_SHARE = 0.9  # of non-empty rows distinct, for an identifier
LONG_NUMBER = 7  # digits from which a number stored as text is an identifier


def storage_kind(storage_type: str) -> str:
    """numeric, integer, text, binary, boolean, date, datetime or other."""
    base = storage_type.split("(")[0].upper()
    if base in INTEGER_STORAGE:
        return "integer"
    if base in NUMERIC_STORAGE:
        return "numeric"
    if base in TEXT_STORAGE:
        return "text"
    if base in BINARY_STORAGE:
        return "binary"
    if base == "BOOLEAN":
        return "boolean"
    if base == "DATE":
        return "date"
    if base.startswith("TIMESTAMP"):
        return "datetime"
    return "other"


def is_boolean(canonical_values: set[str]) -> bool:
    """Values, upper-cased and trimmed, that are one of the usual two-valued spellings."""
    if not canonical_values:
        return False
    if canonical_values == {"1"} or canonical_values == {"0"}:
        return False  # a constant number, not a flag
    return any(canonical_values <= pair for pair in BOOLEAN_PAIRS)


def infer_type(f: ColumnFacts) -> str:
    """One of ``model.INFERRED_TYPES``, from exact facts of the column."""
    kind = storage_kind(f.storage_type)
    if f.n_non_empty == 0:
        return "empty"
    if kind == "boolean" or (kind in ("text", "integer") and is_boolean(f.boolean_values)):
        return "boolean"
    if kind in ("date", "datetime"):
        return kind
    if kind == "binary":
        return "free_text"
    if f.date_rows >= DATE_SHARE * f.n_non_empty:
        timed = sum(n for name, n in f.date_formats.items() if has_time(name))
        return "datetime" if timed * 2 > f.date_rows else "date"
    if f.numeric is not None:
        return _numeric_type(f, kind)
    return _text_type(f)


def _numeric_type(f: ColumnFacts, kind: str) -> str:
    integral = f.numeric.integral if kind == "text" else kind == "integer"
    if kind == "text" and f.leading_zero_values:
        return _text_type(f)  # '02134' is a code or an identifier, not the number 2134
    if integral and looks_like_code(f.name) and kind == "text":
        return "code"
    if integral and looks_like_key(f.name):
        return "identifier"
    if kind == "text" and integral and (f.min_length or 0) >= LONG_NUMBER:
        # Long digit strings are not quantities: phone or account numbers (mostly unique),
        # or codes such as SNOMED (repeated).
        return "identifier" if f.n_distinct >= UNIQUE_SHARE * f.n_non_empty else "code"
    return "integer" if integral else "decimal"


def _text_type(f: ColumnFacts) -> str:
    short = (f.max_length or 0) <= CODE_MAX_LENGTH
    spaced = f.spaced_rows * 2 > f.n_non_empty
    if (f.max_length or 0) > FREE_TEXT_LENGTH or (spaced and f.n_distinct > CODE_MAX_DISTINCT):
        return "free_text"
    unique = f.n_distinct >= UNIQUE_SHARE * f.n_non_empty
    if unique and not spaced and (looks_like_key(f.name) or f.n_distinct > CODE_MAX_DISTINCT):
        return "identifier"
    repeated = f.n_distinct <= 20 or f.n_distinct * 5 <= f.n_non_empty
    few = repeated and (f.n_distinct <= CODE_MAX_DISTINCT or not spaced)
    if short and (few or f.n_non_empty <= CODE_MAX_DISTINCT):
        return "code"  # repeated short values, or a small lookup table (countries)
    if looks_like_key(f.name) and not spaced:
        return "identifier"
    return "free_text"
