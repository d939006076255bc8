"""Value patterns: digits become ``9``, letters ``A``, everything else stays as it was.

``'237-68-3543'`` has the pattern ``999-99-9999`` and ``'A12'`` has ``A99``. Patterns are
computed once per distinct value of a column, inside DuckDB, by ``wb_pattern``: a vectorised
function over Arrow buffers (a byte lookup table), because DuckDB's own ``translate`` and
``regexp_replace`` cost seconds per million values. Any non-ASCII character counts as one ``A``
(most are accented letters).

The regular expressions below read patterns, not values: a pattern table is small, so
questions such as "are all values numbers?" or "do these look like SSNs?" are cheap.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pyarrow as pa

# Patterns longer than this are cut, and end with PATTERN_ELLIPSIS: free text has no useful
# shape past its first words, and cutting keeps the pattern table small.
PATTERN_LENGTH = 40
PATTERN_ELLIPSIS = "…"

UDF_NAME = "wb_pattern"

# Trimmed patterns of numbers: optional sign, digits, optional decimal part.
NUMBER_RE = r"[-+]?(9+(\.9*)?|\.9+)"
INTEGER_RE = r"[-+]?9+"

# Patterns that identify a person whatever the column is called.
IDENTIFYING_PATTERNS: dict[str, str] = {
    "ssn": r"999-99-9999",
    "phone": r"(\+9{1,3}[ .-]?)?(\(999\) ?|999[ .-])999[ .-]9999( ?[AX]9{1,5})?",
    "email": r"[A9._%+'-]+@[A9-]+(\.[A9-]+)*\.A+",
}

# Cheap SQL conditions on a trimmed pattern ``p`` that a regex above needs, so that the
# regex runs only on the few patterns that pass them.
GUARDS: dict[str, str] = {
    "number": "NOT contains(p, 'A')",
    "integer": "NOT contains(p, 'A') AND NOT contains(p, '.')",
    "ssn": "length(p) = 11",
    "phone": "length(p) BETWEEN 12 AND 26 AND NOT contains(p, '@')",
    "email": "contains(p, '@')",
}


def _lookup_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint8)
    table[ord("0") : ord("9") + 1] = ord("9")
    table[ord("a") : ord("z") + 1] = ord("A")
    table[ord("A") : ord("Z") + 1] = ord("A")
    table[0xC0:] = ord("A")  # the first byte of a multi-byte UTF-8 character
    return table


_LOOKUP = _lookup_table()


def pattern_of(text: str) -> str:
    """The pattern of one value, as the SQL of ``pattern_sql`` and ``shown_sql`` gives it."""
    out = []
    for ch in text[:PATTERN_LENGTH]:
        if "0" <= ch <= "9":
            out.append("9")
        elif ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ord(ch) >= 0x80:
            out.append("A")
        else:
            out.append(ch)
    return "".join(out) + (PATTERN_ELLIPSIS if len(text) > PATTERN_LENGTH else "")


def pattern_sql(text: str) -> str:
    """SQL for the pattern of text ``text``, one character longer than shown when cut.

    Values are cut before the (Python) function sees them, and the cut is marked only when a
    pattern is shown (``shown_sql``): both are far cheaper on a few patterns than on every value.
    """
    return f"{UDF_NAME}(left({text}, {PATTERN_LENGTH + 1}))"


def shown_sql(pattern: str) -> str:
    """SQL for a pattern as shown: cut at PATTERN_LENGTH characters, with PATTERN_ELLIPSIS."""
    return (
        f"CASE WHEN length({pattern}) > {PATTERN_LENGTH} "
        f"THEN left({pattern}, {PATTERN_LENGTH}) || '{PATTERN_ELLIPSIS}' ELSE {pattern} END"
    )


def arrow_patterns(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Every character of every string mapped (9, A or itself), NULL staying NULL."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.string():
        values = values.cast(pa.string())
    if values.offset:
        values = pa.concat_arrays([values])
    n = len(values)
    validity, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1)
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if data_buf is not None
        else np.zeros(0, dtype=np.uint8)
    )
    offsets = offsets - offsets[0]
    chars = _LOOKUP[data]
    if data.size and data.max() >= 0x80:
        # One character per multi-byte UTF-8 sequence: drop its continuation bytes.
        keep = (data & 0xC0) != 0x80
        offsets = np.concatenate(([0], np.cumsum(keep)))[offsets].astype(np.int32)
        chars = chars[keep]
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(chars), validity, values.null_count
    )


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make ``wb_pattern(VARCHAR) -> VARCHAR`` available on ``con``."""
    con.create_function(
        UDF_NAME,
        arrow_patterns,
        ["VARCHAR"],
        "VARCHAR",
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


def matches(regex: str, pattern: str) -> bool:
    return re.fullmatch(regex, pattern.strip()) is not None
