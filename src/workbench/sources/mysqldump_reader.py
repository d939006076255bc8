"""Reading a dump statement by statement through a bounded buffer.

The reader holds a window of the file, never all of it: memory is bounded by the largest
statement other than a row insert (row inserts are read in pieces, see
:mod:`workbench.sources.mysqldump_rows`). It counts lines as it goes so that every skip and
reject names its line, and honours the client's ``DELIMITER`` command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from workbench.errors import SourceError
from workbench.sources.mysqldump_statements import OPEN_ENDED, TOKEN

BLOCK = 16 << 20
MAX_STATEMENT = 1 << 30  # a schema statement or one row this large is not a dump's
_DELIMITER_COMMAND = re.compile(rb"DELIMITER[ \t]+(\S+)[^\n]*+\n?", re.I)
_INSERT_WORDS = (b"INSERT", b"REPLACE")
_NOT_VALUES = (b"SELECT", b"SET", b"TABLE", b"WITH")


@dataclass(frozen=True)
class Statement:
    line: int
    text: bytes
    terminated: bool  # False when the file ended before the statement's delimiter


class DumpReader:
    """A window on a dump file: ``buf[pos:]`` is what has not been consumed yet."""

    def __init__(self, f: BinaryIO, display: str, advanced: Callable[[int], None] | None = None):
        self.f = f
        self.display = display
        self.buf = b""
        self.pos = 0
        self.base = 0  # file offset of buf[0]
        self.eof = False
        self.line = 1
        self.delimiter = b";"
        self._advanced = advanced or (lambda n: None)

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def available(self) -> int:
        return len(self.buf) - self.pos

    def fill(self, need: int) -> None:
        """Make ``need`` unconsumed bytes available, or as many as the file still has."""
        if need > MAX_STATEMENT:
            raise SourceError(
                f"{self.display}: line {self.line}: a statement longer than "
                f"{MAX_STATEMENT >> 20} MB; this is not a file mysqldump writes"
            )
        while self.available() < need and not self.eof:
            chunk = self.f.read(max(BLOCK, need - self.available()))
            if not chunk:
                self.eof = True
            # One copy: the unconsumed tail and the new block together.
            self.buf = self.buf[self.pos :] + chunk
            self.base += self.pos
            self.pos = 0

    def advance(self, n: int, newlines: int | None = None) -> None:
        if newlines is None:
            newlines = self.buf.count(b"\n", self.pos, self.pos + n)
        self.line += newlines
        self.pos += n
        self._advanced(n)

    def at_eof(self) -> bool:
        return self.eof and not self.available()

    def match_at(self, rel: int, pattern: re.Pattern[bytes] = TOKEN) -> re.Match[bytes] | None:
        """The token starting ``rel`` bytes after ``pos``, read whole; None at end of file."""
        want = rel + BLOCK // 8
        while True:
            if self.available() <= rel:
                self.fill(rel + 1)
                if self.available() <= rel:
                    return None
            i = self.pos + rel
            m = pattern.match(self.buf, i)
            cut = m.end() == len(self.buf) or (m.lastgroup == "other" and self.buf[i] in OPEN_ENDED)
            if not cut or self.eof:
                return m
            want = max(want * 2, self.available() + BLOCK)
            self.fill(want)

    def skip_space(self) -> bool:
        """Skip whitespace, comments and ``DELIMITER`` commands; False at end of file."""
        while True:
            m = self.match_at(0)
            if m is None:
                return False
            if m.lastgroup in ("ws", "comment"):
                self.advance(m.end() - m.start())
            elif m.lastgroup == "word" and m.group().upper() == b"DELIMITER":
                self._delimiter_command()
            else:
                return True

    def starts_insert(self) -> bool:
        m = self.match_at(0)
        return m is not None and m.lastgroup == "word" and m.group().upper() in _INSERT_WORDS

    def insert_header(self) -> tuple[bytes, int] | None:
        """The text of ``INSERT ... INTO t (cols)`` before ``VALUES`` and the length up to the
        rows, without consuming; None when the insert has no ``VALUES`` (``INSERT .. SELECT``).
        """
        rel = 0
        while True:
            if self.delimiter_at(rel):
                return None
            m = self.match_at(rel)
            if m is None:
                return None
            word = m.group().upper() if m.lastgroup == "word" else b""
            if word in (b"VALUES", b"VALUE"):
                return self.buf[self.pos : m.start()], m.end() - self.pos
            if word in _NOT_VALUES:
                return None
            rel = self._after(m)

    def statement(self) -> Statement:
        """Consume one statement up to its delimiter (or the end of the file)."""
        line, rel = self.line, 0
        while not self.delimiter_at(rel):
            m = self.match_at(rel)
            if m is None:
                text = self.buf[self.pos : self.pos + rel]
                self.advance(rel)
                return Statement(line, text, terminated=False)
            rel = self._after(m)
        text = self.buf[self.pos : self.pos + rel]
        self.advance(rel + len(self.delimiter))
        return Statement(line, text, terminated=True)

    def consume_delimiter(self) -> bool:
        """Consume the delimiter if it comes next (after whitespace)."""
        rel = 0
        while True:
            m = self.match_at(rel)
            if m is None or m.lastgroup != "ws":
                break
            rel = m.end() - self.pos
        if self.delimiter_at(rel):
            self.advance(rel + len(self.delimiter))
            return True
        return False

    def _after(self, m: re.Match[bytes]) -> int:
        """Where the next token starts: after ``m``, or at a delimiter inside it (``END$$``
        is a word followed by the delimiter ``$$``)."""
        if m.lastgroup == "word":
            inside = m.group().find(self.delimiter, 1)
            if inside > 0:
                return m.start() + inside - self.pos
        return m.end() - self.pos

    def delimiter_at(self, rel: int) -> bool:
        end = rel + len(self.delimiter)
        if self.available() < end:
            self.fill(end)
        return self.buf.startswith(self.delimiter, self.pos + rel)

    def _delimiter_command(self) -> None:
        # A client command, not SQL: it ends at the end of its line.
        self.fill(4096)
        m = _DELIMITER_COMMAND.match(self.buf, self.pos)
        if not m:
            raise SourceError(f"{self.display}: line {self.line}: DELIMITER without a delimiter")
        self.delimiter = m.group(1)
        self.advance(m.end() - m.start())
