"""The fast path: the rows of an ``INSERT ... VALUES`` turned into CSV at C speed.

A dump's rows are almost all of its bytes, and mysqldump writes them in one canonical form:
``(1,'a\\'b',NULL,0x1F),(2,...)``, with no spaces or comments inside a tuple. For that form
the rows are transcoded with numpy over whole statements, never a Python loop per value:

1. find the real quotes (a quote not escaped by an odd run of backslashes); between pairs
   of them lie the string literals, everything else is *outside*;
2. prove the outside text has the canonical grammar: tuples of exactly the table's width,
   one comma between tuples, whitespace only between tuples, a string literal filling its
   whole field, and only number/NULL/hex characters elsewhere;
3. emit each tuple's inside as one CSV record with ``'`` as the quote (MySQL's ``''`` is
   already CSV), turning MySQL's backslash escapes into the characters they stand for.
   A string in a binary column (raw bytes, as MariaDB's mysqldump writes BLOBs, or
   ``_binary '..'`` as MySQL's does) is re-encoded as ``0x`` hex.

Anything else (comments, version comments in VALUES, spaces inside a tuple, a malformed
tuple) is declined, for the exact parser in :mod:`workbench.sources.mysqldump_tuples`: the
fast path is never wrong, only declined.
"""

from __future__ import annotations

from binascii import hexlify
from dataclasses import dataclass
from functools import cache

import numpy as np

# Character classes outside string literals.
TOKEN, OPEN, CLOSE, COMMA, SPACE, BAD = range(6)
_CLASS = bytearray([BAD]) * 256
for _c in b"0123456789.+-xNUL" + b"abcdefABCDEF":
    _CLASS[_c] = TOKEN
_CLASS[ord("(")], _CLASS[ord(")")], _CLASS[ord(",")] = OPEN, CLOSE, COMMA
for _c in b" \t\r\n":
    _CLASS[_c] = SPACE
_CLASS = bytes(_CLASS)

# What an escaped character stands for; unlisted characters stand for themselves.
_UNESCAPE = np.arange(256, dtype=np.uint8)
for _c, _v in {b"n": 10, b"r": 13, b"t": 9, b"0": 0, b"Z": 26, b"b": 8}.items():
    _UNESCAPE[_c[0]] = _v
# Escapes whose backslash stays: \' becomes CSV's '' and MySQL keeps \% and \_ as written.
_KEEP_BACKSLASH = np.zeros(256, dtype=bool)
_KEEP_BACKSLASH[[ord("'"), ord("%"), ord("_")]] = True
_BINARY_STRING = b"_binary '"


@dataclass(frozen=True)
class Layout:
    """How to read a tuple: its width, its binary and BIT fields (a string there is bytes,
    staged as hex), and the codec of the dump's text."""

    width: int
    binary: tuple[int, ...] = ()
    bits: tuple[int, ...] = ()
    codec: str = "utf-8"


@dataclass(frozen=True)
class Transcoded:
    csv: bytes
    tuples: int
    longest: int  # bytes in the longest record, for DuckDB's line size limit


def lex(buf: bytes, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the real quotes and of the escaping backslashes in ``buf[start:stop]``
    (relative to ``buf``), assuming every backslash there is inside a string literal."""
    a = np.frombuffer(buf, np.uint8, stop - start, start)
    if buf.find(b"\\", start, stop) < 0:
        return np.flatnonzero(a == 39) + start, np.empty(0, np.intp)
    special = np.flatnonzero((a == 39) | (a == 92))  # one pass finds both
    is_backslash = a[special] == 92
    escapes = _escaping(special[is_backslash])
    quotes = special[~is_backslash]
    if len(escapes):  # a quote right after an escaping backslash is part of the string
        escaped = escapes + 1
        at = np.minimum(np.searchsorted(escaped, quotes), len(escaped) - 1)
        quotes = quotes[escaped[at] != quotes]
    return quotes + start, escapes + start


def transcode(
    body: bytes, quotes: np.ndarray, escapes: np.ndarray, layout: Layout
) -> Transcoded | None:
    """The tuples of ``body`` as CSV records if they are canonical, else None."""
    if _BINARY_STRING in body:
        body = _without_binary_introducers(body, quotes)
        if body is None:
            return None
        quotes, escapes = lex(body, 0, len(body))
    try:
        marks, kinds = structure(body, quotes)
    except ValueError:
        return None
    a = np.frombuffer(body, np.uint8)
    grid = _tuple_grid(marks, kinds, layout.width, len(body))
    if grid is None or not _spaces_between_tuples(marks[kinds == SPACE], grid, len(body)):
        return None
    raw = _fields(a, grid, quotes, layout)
    if raw is None:
        return None
    opens, closes = grid[:, 0], grid[:, layout.width]
    out, keep, dropped = _records(a, opens, closes, escapes)
    csv = out[keep].tobytes()
    if len(raw):
        csv = _as_hex(csv, *_csv_positions(raw, opens, closes, dropped))
    longest = int((closes - opens).max()) * (3 if len(raw) else 1)  # hex doubles bytes
    return Transcoded(csv, len(opens), longest)


def structure(body: bytes, quotes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the parentheses, commas and spaces outside string literals, and their
    classes; ValueError unless everything else outside them is number/NULL/hex text."""
    if len(quotes) % 2:
        raise ValueError("unterminated string")
    outside = _outside(quotes, len(body))
    classes = np.frombuffer(body.translate(_CLASS), np.uint8)
    if (outside & (classes == BAD)).any():
        raise ValueError("not canonical")
    marks = np.flatnonzero(outside & (classes >= OPEN) & (classes <= SPACE))
    return marks, classes[marks]


def _escaping(runs: np.ndarray) -> np.ndarray:
    """The backslashes that escape the next character: in a run of backslashes, every other
    one from the first."""
    if len(runs) < 2 or not (np.diff(runs) == 1).any():
        return runs
    first = np.ones(len(runs), dtype=bool)
    first[1:] = np.diff(runs) != 1
    index = np.arange(len(runs))
    run_start = np.maximum.accumulate(np.where(first, index, 0))
    return runs[(index - run_start) % 2 == 0]


def _without_binary_introducers(body: bytes, quotes: np.ndarray) -> bytes | None:
    """``body`` with MySQL's ``_binary`` dropped before strings, if every one is outside a
    string literal (a string in a binary column is bytes anyway; elsewhere it is text)."""
    found, at = [], body.find(_BINARY_STRING)
    while at >= 0:
        found.append(at)
        at = body.find(_BINARY_STRING, at + len(_BINARY_STRING))
    if (np.searchsorted(quotes, np.array(found)) % 2).any():
        return None  # "_binary '" written inside a string: leave it to the exact parser
    return body.replace(_BINARY_STRING, b"'")


def _outside(quotes: np.ndarray, n: int) -> np.ndarray:
    """True for every byte outside string literals (a literal includes its quotes)."""
    bounds = np.empty(len(quotes) + 2, dtype=np.intp)
    bounds[0], bounds[-1] = 0, n
    bounds[1:-1] = quotes
    bounds[2:-1:2] += 1  # a closing quote belongs to its literal
    pattern = np.zeros(len(bounds) - 1, dtype=bool)
    pattern[::2] = True
    return np.repeat(pattern, np.diff(bounds))


@cache
def _tuple_pattern(width: int) -> np.ndarray:
    return np.array([OPEN] + [COMMA] * (width - 1) + [CLOSE, COMMA], dtype=np.uint8)


def _tuple_grid(marks: np.ndarray, kinds: np.ndarray, width: int, n: int) -> np.ndarray | None:
    """Structural positions as a (tuples, width + 2) grid: '(' then commas, ')' and the
    comma after it; None unless the sequence is exactly that, tuple after tuple."""
    solid = kinds != SPACE
    marks, kinds = marks[solid], kinds[solid]
    per = width + 2
    tuples = (len(marks) + 1) // per
    if tuples == 0 or len(marks) != tuples * per - 1:
        return None
    if not np.array_equal(kinds, np.tile(_tuple_pattern(width), tuples)[:-1]):
        return None
    return np.append(marks, n).reshape(tuples, per)


def _spaces_between_tuples(spaces: np.ndarray, grid: np.ndarray, n: int) -> bool:
    """Whitespace may separate tuples, nothing else may: each gap holds one comma and
    whitespace, and only whitespace surrounds the rows."""
    opens, closes = grid[:, 0], grid[:, -2]
    tuples = len(opens)
    gap = np.searchsorted(closes, spaces)
    if (np.searchsorted(opens, spaces) != gap).any():
        return False  # whitespace inside a tuple
    found = np.bincount(gap, minlength=tuples + 1)
    expected = np.empty(tuples + 1, dtype=np.intp)
    expected[0] = opens[0]
    expected[1:-1] = opens[1:] - closes[:-1] - 2
    expected[-1] = n - closes[-1] - 1
    return bool((found == expected).all())


def _fields(
    a: np.ndarray, grid: np.ndarray, quotes: np.ndarray, layout: Layout
) -> np.ndarray | None:
    """None unless every field is one whole string literal or one token; else the
    (start, end, tuple) of the strings in binary and BIT columns, in order."""
    width = layout.width
    starts, ends = grid[:, :width] + 1, grid[:, 1 : width + 1]
    if not (ends > starts).all():
        return None  # an empty field
    if len(quotes):
        # A literal may be several quoted runs joined by '' (an escaped quote); it must
        # fill its field: preceded by '(' or ',' and followed by ',' or ')'.
        opening, closing = quotes[0::2], quotes[1::2]
        joined = closing[:-1] + 1 == opening[1:]
        first = opening[np.concatenate(([True], ~joined))]
        last = closing[np.concatenate((~joined, [True]))]
        if first[0] == 0 or last[-1] + 1 >= len(a):
            return None
        before, after = a[first - 1], a[last + 1]
        if not (((before == 40) | (before == 44)).all() and ((after == 44) | (after == 41)).all()):
            return None
    columns = np.array(sorted(layout.binary + layout.bits), dtype=np.intp)
    if not len(columns):
        return np.empty((0, 3), dtype=np.intp)
    s, e = starts[:, columns], ends[:, columns]
    is_string = a[s] == 39
    row = np.broadcast_to(np.arange(len(grid))[:, None], s.shape)
    return np.stack((s[is_string], e[is_string], row[is_string]), axis=1)


def _records(
    a: np.ndarray, opens: np.ndarray, closes: np.ndarray, escapes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each tuple's inside as a CSV record: ')' becomes the newline, escapes are resolved.
    Returns the edited bytes, which of them to keep, and the backslashes dropped."""
    bounds = np.empty(2 * len(opens) + 2, dtype=np.intp)
    bounds[0], bounds[-1] = 0, len(a)
    bounds[1:-1:2] = opens + 1
    bounds[2:-1:2] = closes + 1
    pattern = np.zeros(len(bounds) - 1, dtype=bool)
    pattern[1::2] = True
    keep = np.repeat(pattern, np.diff(bounds))
    out = a.copy()
    out[closes] = 10
    dropped = escapes
    if len(escapes):
        escaped = a[escapes + 1]
        out[escapes + 1] = _UNESCAPE[escaped]
        out[escapes[escaped == 39]] = 39
        dropped = escapes[~_KEEP_BACKSLASH[escaped]]
        keep[dropped] = False
    return out, keep, dropped


def _csv_positions(
    raw: np.ndarray, opens: np.ndarray, closes: np.ndarray, dropped: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where the quotes of the strings ``raw`` land in the CSV: a byte moves back by the
    bytes dropped before it, those between tuples and the resolved backslashes."""
    between = np.empty(len(opens), dtype=np.intp)
    between[0] = opens[0] + 1
    between[1:] = opens[1:] - closes[:-1]
    shift = np.cumsum(between)[raw[:, 2]]
    first = raw[:, 0] - shift - np.searchsorted(dropped, raw[:, 0])
    last = raw[:, 1] - 1 - shift - np.searchsorted(dropped, raw[:, 1] - 1)
    return first, last


def _as_hex(csv: bytes, first: np.ndarray, last: np.ndarray) -> bytes:
    """The CSV with the strings quoted from ``first`` to ``last`` written as 0x-hex: the
    bytes of a binary or BIT column are not text, and DuckDB reads only UTF-8. (A loop of
    C calls, measured faster than masking every byte with numpy.)"""
    pieces: list[bytes] = []
    add, done = pieces.append, 0
    for start, end in zip(first.tolist(), last.tolist(), strict=True):
        add(csv[done:start])
        add(b"0x")
        add(hexlify(csv[start + 1 : end].replace(b"''", b"'")))  # '' is one quote in CSV
        done = end + 1
    add(csv[done:])
    return b"".join(pieces)
