"""Counting the records of a delimited text file, independently of the parser that loads it.

Acquisition checks that loaded + rejected rows equal the records in the file, so the count
must not come from DuckDB itself. It follows Python's ``csv`` module: a record ends at a line
break (``\\n``, ``\\r\\n`` or a lone ``\\r``) outside quotes, and an empty line is not a record.

The fast path is a vectorised scan with numpy: a line break is outside quotes when an even
number of quote characters precede it. That holds exactly when every quote opens a field or
closes one (RFC 4180, with quotes escaped by doubling); the scan checks that property on
every quote and, where it fails (a stray quote inside an unquoted field, a backslash escape),
falls back to counting with ``csv`` itself, which is exact but slower.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.sources.dialect import Dialect

NL, CR = 0x0A, 0x0D
CHUNK = 1 << 26


@dataclass(frozen=True)
class RecordCount:
    records: int  # non-empty records, the header included
    blank_lines: int  # empty lines outside quoted fields: not records
    method: str  # "scan" or "csv": how the records were counted


def count_records(path: Path, dialect: Dialect, start: int = 0) -> RecordCount:
    """Records in ``path`` (UTF-8) from byte ``start`` (past a BOM), as ``csv`` counts them."""
    if dialect.escapes_by_doubling and (dialect.delimiter + dialect.quote).isascii():
        quote = ord(dialect.quote) if dialect.quote else None
        scanned = _scan(path, quote, ord(dialect.delimiter), start)
        if scanned is not None:
            return scanned
    return _count_with_csv(path, dialect)


def line_numbers(path: Path, offsets: list[int]) -> list[int]:
    """The 1-based line of the file on which each byte offset lies."""
    if not offsets:
        return []
    order = np.argsort(np.asarray(offsets, dtype=np.int64), kind="stable")
    wanted = np.asarray(offsets, dtype=np.int64)[order]
    lines = np.empty(len(wanted), dtype=np.int64)
    done, breaks_before = 0, 0
    for c in _chunks(path, 0, stop=int(wanted[-1]) + 1):
        ends, _ = _line_breaks(c)
        upto = int(np.searchsorted(wanted, c.pos + len(c.a), side="left"))
        local = wanted[done:upto] - c.pos
        lines[done:upto] = 1 + breaks_before + np.searchsorted(ends, local, side="left")
        done, breaks_before = upto, breaks_before + len(ends)
    lines[done:] = 1 + breaks_before
    out = np.empty_like(lines)
    out[order] = lines
    return out.tolist()


@dataclass(frozen=True)
class _Chunk:
    pos: int  # offset of the chunk in the file
    a: np.ndarray  # its bytes
    raw: bytes  # the same bytes (and one more), for the fast bytes.find
    before2: int  # the two bytes before the chunk; a line break at the start of the data
    before1: int
    after: int  # the byte after the chunk, -1 at the end of the file

    def has(self, byte: int) -> bool:
        return self.raw.find(byte, 0, len(self.a)) >= 0


def _chunks(path: Path, start: int, stop: int | None = None) -> Iterator[_Chunk]:
    before2 = before1 = NL
    with path.open("rb") as f:
        pos = start
        f.seek(pos)
        raw = f.read(CHUNK + 1)
        while raw and (stop is None or pos < stop):
            n = min(len(raw), CHUNK)
            a = np.frombuffer(raw, dtype=np.uint8, count=n)
            after = raw[n] if len(raw) > n else -1
            yield _Chunk(pos, a, raw, before2, before1, after)
            before2, before1 = (int(a[-2]) if n >= 2 else before1), int(a[-1])
            pos += n
            f.seek(pos)
            raw = f.read(CHUNK + 1)


def _line_breaks(c: _Chunk) -> tuple[np.ndarray, np.ndarray]:
    """(last byte, first byte) of each line break in the chunk; a first byte may be -1."""
    ends = np.flatnonzero(c.a == NL)
    if not c.has(CR) and c.before1 != CR:
        return ends, ends
    starts = ends - (_before(c, ends) == CR)
    cr = np.flatnonzero(c.a == CR)
    lone = cr[_after(c, cr, at_end=0) != NL]
    if not len(lone):
        return ends, starts
    ends, starts = np.concatenate([ends, lone]), np.concatenate([starts, lone])
    order = np.argsort(ends, kind="stable")
    return ends[order], starts[order]


def _before(c: _Chunk, idx: np.ndarray) -> np.ndarray:
    """The byte before each of the ascending positions ``idx`` (which may start at -1)."""
    if not len(idx) or idx[0] >= 1:
        return c.a[idx - 1]
    out = c.a[np.maximum(idx - 1, 0)]
    out[idx == 0] = c.before1
    out[idx == -1] = c.before2
    return out


def _after(c: _Chunk, idx: np.ndarray, at_end: int) -> np.ndarray:
    """The byte after each of the ascending positions ``idx``; ``at_end`` past the file's end."""
    n = len(c.a)
    if not len(idx) or idx[-1] < n - 1:
        return c.a[idx + 1]
    out = c.a[np.minimum(idx + 1, n - 1)]
    out[-1] = at_end if c.after < 0 else c.after
    return out


def _scan(path: Path, quote: int | None, delimiter: int, start: int) -> RecordCount | None:
    """The vectorised count, or ``None`` where a quote neither opens nor closes a field."""
    boundary = np.zeros(256, dtype=bool)
    boundary[[delimiter, NL, CR] + ([quote] if quote is not None else [])] = True
    records = blanks = parity = 0
    last_end = start - 1
    for c in _chunks(path, start):
        ends, starts = _line_breaks(c)
        if quote is not None and (parity or c.has(quote)):
            # int32 positions (a chunk is far below 2 GiB) make the searches twice as fast
            quotes = np.flatnonzero(c.a == quote).astype(np.int32)
            if not _quotes_delimit_fields(c, quotes, parity, boundary, delimiter):
                return None
            outside = ((np.searchsorted(quotes, ends.astype(np.int32)) + parity) & 1) == 0
            ends, starts = ends[outside], starts[outside]
            parity = (parity + len(quotes)) & 1
        before = _before(c, starts)
        empty = int(np.count_nonzero((before == NL) | (before == CR)))
        blanks += empty
        records += len(ends) - empty
        if len(ends):
            last_end = c.pos + int(ends[-1])
    if path.stat().st_size - 1 > last_end:
        records += 1  # the last record has no line break after it
    return RecordCount(records, blanks, "scan")


def _quotes_delimit_fields(
    c: _Chunk, quotes: np.ndarray, parity: int, boundary: np.ndarray, delimiter: int
) -> bool:
    """Each opening quote follows a field boundary, each closing quote precedes one.

    A doubled quote inside a quoted field reads as a close followed by an open, so it passes.
    """
    opening, closing = quotes[parity::2], quotes[1 - parity :: 2]
    return bool(boundary[_before(c, opening)].all()) and bool(
        boundary[_after(c, closing, at_end=delimiter)].all()
    )


@contextmanager
def _unlimited_fields() -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit((1 << 31) - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _count_with_csv(path: Path, dialect: Dialect) -> RecordCount:
    records = blanks = 0
    with (
        _unlimited_fields(),
        path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f,
    ):
        reader = csv.reader(
            f,
            delimiter=dialect.delimiter,
            quotechar=dialect.quote or None,
            quoting=csv.QUOTE_MINIMAL if dialect.quote else csv.QUOTE_NONE,
            escapechar=None if dialect.escapes_by_doubling else dialect.escape,
            doublequote=dialect.escapes_by_doubling,
            strict=False,
        )
        for row in reader:
            if row:
                records += 1
            else:
                blanks += 1
    return RecordCount(records, blanks, "csv")
