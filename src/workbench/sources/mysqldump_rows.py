"""Framing the rows of an INSERT for the fast path: where they end, and how much to take.

mysqldump ends a statement with its delimiter at the end of a line, so the end of the rows
is the first such delimiter outside string literals. A statement longer than a window is
cut at a tuple boundary and transcoded in pieces, so memory stays bounded however long it
is; short statements with the same header (``--skip-extended-insert``: one row each) are
taken together, so that per-statement costs are paid once per megabyte, not once per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from workbench.sources.mysqldump_charsets import UTF8, decode
from workbench.sources.mysqldump_reader import DumpReader
from workbench.sources.mysqldump_values import (
    CLOSE,
    COMMA,
    SPACE,
    Layout,
    Transcoded,
    lex,
    structure,
)
from workbench.sources.mysqldump_values import transcode as _transcode

WINDOW = 4 << 20  # first look for a statement's end within this many bytes
MAX_WINDOW = 64 << 20  # a longer statement is transcoded in pieces at tuple boundaries
SMALL = 1 << 16  # statements shorter than this are taken together with the next ones
BATCH = 1 << 20  # short statements with one header are transcoded this many bytes at a time
_SEPARATOR = re.compile(rb"[ \t\r\n]*,")
_BETWEEN = re.compile(rb"[ \t\r\n]*")
_ESCAPE_PAIR = re.compile(rb"\\.", re.S)


@dataclass(frozen=True)
class Rows:
    """Tuples transcoded to CSV records (one ``\\n``-terminated line each, unless a value
    holds a newline)."""

    csv: bytes
    tuples: int
    longest: int  # bytes in the longest record, for DuckDB's line size limit
    line: int  # line of the first tuple in the dump
    offset: int  # where these tuples start in the file
    length: int  # and how many bytes of the file they span
    complete: bool  # False when the statement goes on (it was cut at a tuple boundary)


def read_rows(reader: DumpReader, layout: Layout, header: bytes = b"") -> Rows | None:
    """Transcode the rows at the reader's position if they are canonical, consuming them
    (and the statement's delimiter); None, consuming nothing, when they are not. ``header``
    is the statement's text up to its rows: following statements that repeat it exactly
    are taken along."""
    end, quotes, escapes, complete = _find_end(reader)
    buf, start = reader.buf, reader.pos
    body = buf[start : start + end]
    out = None
    if not complete:
        end = _last_tuple_end(body, quotes)
        if end is None:
            return None
        body = body[:end]
        quotes, escapes = quotes[quotes < end], escapes[escapes < end]
    elif header and end < SMALL:
        out, end = _with_same_header(reader, end, quotes, escapes, header, layout)
    out = out or _transcode(body, quotes, escapes, layout)
    if out is None:
        return None
    csv, longest = out.csv, out.longest
    if layout.codec != UTF8:  # DuckDB reads UTF-8; a byte the codec refuses: exact parser
        try:
            csv, longest = decode(csv, layout.codec).encode(), longest * 3
        except UnicodeDecodeError:
            return None
    rows = Rows(csv, out.tuples, longest, reader.line, reader.offset, end, complete)
    newlines = np.count_nonzero(np.frombuffer(buf, np.uint8, end, start) == 10)
    reader.advance(end, int(newlines))
    if complete:
        reader.consume_delimiter()
    else:
        reader.fill(1 << 16)
        m = _SEPARATOR.match(reader.buf, reader.pos)
        reader.advance(m.end() - m.start() if m else 0)
    return rows


def _find_end(reader: DumpReader) -> tuple[int, np.ndarray, np.ndarray, bool]:
    """Where the statement ends: the first delimiter outside string literals that ends a
    line. Returns (end, quotes, escapes, complete); complete is False when the window was
    full before the end was found."""
    window = WINDOW
    while True:
        reader.fill(window)
        at_eof = reader.eof
        ends = _end_pattern(reader.delimiter, at_eof)
        buf, start, stop = reader.buf, reader.pos, len(reader.buf)
        quotes, escapes, parity, seg = [], [], 0, start
        for m in ends.finditer(buf, start, stop):
            q, e = lex(buf, seg, m.start() + 1)
            quotes.append(q)
            escapes.append(e)
            parity ^= len(q) & 1
            seg = m.start() + 1
            if not parity:
                return m.start() - start, _joined(quotes, start), _joined(escapes, start), True
        if at_eof or stop - start >= MAX_WINDOW:
            q, e = lex(buf, seg, stop)
            quotes.append(q)
            escapes.append(e)
            complete = at_eof and not (parity ^ (len(q) & 1))
            return stop - start, _joined(quotes, start), _joined(escapes, start), complete
        window = min(window * 4, MAX_WINDOW)


@cache
def _end_pattern(delimiter: bytes, at_eof: bool) -> re.Pattern[bytes]:
    # mysqldump ends every statement with its delimiter at the end of a line.
    tail = rb"(?:\r?\n|\Z)" if at_eof else rb"\r?\n"
    return re.compile(re.escape(delimiter) + rb"[ \t]*" + tail)


def _joined(parts: list[np.ndarray], start: int) -> np.ndarray:
    return np.concatenate(parts) - start if parts else np.empty(0, np.intp)


def _last_tuple_end(body: bytes, quotes: np.ndarray) -> int | None:
    """The end of the last complete tuple followed by a comma, for cutting a long statement."""
    if len(quotes) % 2:  # the window ends inside a string: look only before it
        body, quotes = body[: quotes[-1]], quotes[:-1]
    try:
        marks, kinds = structure(body, quotes)
    except ValueError:
        return None
    solid = kinds != SPACE
    marks, kinds = marks[solid], kinds[solid]
    cut = np.flatnonzero((kinds[:-1] == CLOSE) & (kinds[1:] == COMMA))
    return int(marks[cut[-1]]) + 1 if len(cut) else None


def _with_same_header(
    reader: DumpReader,
    end: int,
    quotes: np.ndarray,
    escapes: np.ndarray,
    header: bytes,
    layout: Layout,
) -> tuple[Transcoded | None, int]:
    """The rows of this short statement and of the next ones with the same header, as one
    body (tuples joined by commas), and where the last of them ends; (None, end) if there is
    no next one or the joined rows are not canonical."""
    bodies = _same_header_bodies(reader, end, header)
    if len(bodies) == 1:
        return None, end
    buf, start = reader.buf, reader.pos
    joined = b",".join(buf[start + s : start + e] for s, e in bodies)
    more_quotes, more_escapes = lex(joined, end + 1, len(joined))  # the first is lexed
    out = _transcode(
        joined,
        np.concatenate((quotes, more_quotes)),
        np.concatenate((escapes, more_escapes)),
        layout,
    )
    return (out, bodies[-1][1]) if out is not None else (None, end)


def _same_header_bodies(reader: DumpReader, first_end: int, header: bytes) -> list[tuple[int, int]]:
    """(start, end) of the rows of the statement at the reader and of the whole statements
    right after it that repeat its header, up to BATCH bytes, all within the buffer."""
    buf, start, delimiter = reader.buf, reader.pos, reader.delimiter
    ends = _end_pattern(delimiter, False)
    bodies, size = [(0, first_end)], first_end
    at = start + first_end + len(delimiter)
    while size < BATCH:
        at = _BETWEEN.match(buf, at).end()
        if not buf.startswith(header, at):
            break
        body = at + len(header)
        m = ends.search(buf, body)
        while m is not None and _odd_quotes(buf, body, m.start()):
            m = ends.search(buf, m.end())  # that delimiter was inside a string
        if m is None:
            break  # the statement goes on past the buffer: it starts the next batch
        bodies.append((body - start, m.start() - start))
        size += m.start() - body
        at = m.start() + len(delimiter)
    return bodies


def _odd_quotes(buf: bytes, start: int, stop: int) -> bool:
    if buf.find(b"\\", start, stop) < 0:
        return bool(buf.count(b"'", start, stop) & 1)
    return bool(_ESCAPE_PAIR.sub(b"", buf[start:stop]).count(b"'") & 1)
