"""The exact path: rows the fast path declines, parsed token by token.

This parser knows all of MySQL's literal syntax: whitespace and comments anywhere, version
comments inside VALUES (``/*!50705 0x0101.. ,*/``), adjacent strings, ``_binary '..'`` and
other charset introducers, ``X'..'``, ``b'..'``, ``TRUE``/``FALSE``. Each tuple becomes a
CSV record in the same form the fast path writes, or a reject with its line, the reason and
its raw text; parsing then resumes at the next tuple. It consumes as it goes, so a long
garbage run costs time, not memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from workbench.sources.mysqldump_charsets import codec_for, decode
from workbench.sources.mysqldump_reader import DumpReader
from workbench.sources.mysqldump_values import Layout

VALUE = re.compile(
    rb"""
    (?P<ws>[ \t\r\n\f]++)
  | (?P<str>'(?:[^'\\]++|\\.|'')*+'|"(?:[^"\\]++|\\.|"")*+")
  | (?P<vopen>/\*![0-9]*+)
  | (?P<comment>/\*.*?\*/|--(?=[ \t\f\r\n]|\Z)[^\n]*+|\#[^\n]*+)
  | (?P<vclose>\*/)
  | (?P<hex>0x[0-9A-Fa-f]*+(?![\w$])|[Xx]'[0-9A-Fa-f]*+')
  | (?P<bit>0b[01]++(?![\w$])|[Bb]'[01]*+')
  | (?P<num>[-+]?(?:[0-9]++\.?[0-9]*+|\.[0-9]++)(?:[eE][-+]?[0-9]++)?(?![\w$]))
  | (?P<intro>_[A-Za-z0-9]++|[Nn](?='))
  | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*+)
  | (?P<punct>[(),])
  | (?P<other>.)
    """,
    re.S | re.X,
)
_QUIET = ("ws", "comment", "vopen", "vclose")
_ESCAPE = re.compile(rb"\\(.)|''|\"\"", re.S)
_UNESCAPED = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"0": b"\0", b"Z": b"\x1a", b"b": b"\b"}
RAW_LIMIT = 10_000  # characters of a rejected record's raw text that are kept


@dataclass(frozen=True)
class Parsed:
    """One tuple: a CSV record, or the reason it was rejected."""

    line: int
    record: bytes | None
    reason: str | None = None
    raw: str = ""


class TupleError(Exception):
    def __init__(self, reason: str, whole: bool = False):
        super().__init__(reason)
        self.whole = whole  # the tuple was read to its end: nothing to skip


class _Text:
    """A string literal's bytes and their codec (None: the dump's own); for a hex literal,
    also how it was written (in a text column it is staged as written, as on the fast path)."""

    def __init__(self, data: bytes, codec: str | None = None, written: bytes | None = None):
        self.data, self.codec, self.written = data, codec, written


def parse_rows(reader: DumpReader, layout: Layout) -> Iterator[Parsed]:
    """Tuples from the reader's position to the end of the statement (consumed)."""
    parser = _Parser(reader, layout)
    while True:
        parser.skip_quiet()
        if parser.at_end():
            return
        parser.start_record()
        try:
            record = parser.tuple()
        except TupleError as e:
            if not e.whole:
                parser.recover()
            yield Parsed(parser.record_line, None, str(e), parser.raw_text())
        else:
            yield Parsed(parser.record_line, record)
        kind, token = parser.significant()
        if token == b",":
            continue
        if kind == "delimiter":
            reader.advance(len(reader.delimiter))
        if kind in ("delimiter", "eof"):
            return
        # Anything else after a tuple (ON DUPLICATE KEY UPDATE, garbage) up to the end of
        # the statement is one rejected record, so that nothing is dropped unseen.
        parser.start_record(token)
        parser.skip_statement()
        reason = f"unexpected {_shown(kind, token)} after a tuple"
        yield Parsed(parser.record_line, None, reason, parser.raw_text())
        parser.at_end()
        return


class _Parser:
    def __init__(self, reader: DumpReader, layout: Layout):
        self.reader, self.layout = reader, layout
        self.raw = bytearray()
        self.record_line = reader.line
        self.depth = 0  # parentheses open in the current record

    # -- tokens ------------------------------------------------------------------------------

    def take(self) -> tuple[str, bytes]:
        m = self.reader.match_at(0, VALUE)
        if m is None:
            return "eof", b""
        token = m.group()
        self.reader.advance(len(token))
        if len(self.raw) < RAW_LIMIT * 4:
            self.raw += token
        if token == b"(":
            self.depth += 1
        elif token == b")":
            self.depth -= 1
        return m.lastgroup, token

    def skip_quiet(self) -> None:
        while (m := self.reader.match_at(0, VALUE)) is not None and m.lastgroup in _QUIET:
            self.take()

    def significant(self) -> tuple[str, bytes]:
        self.skip_quiet()
        if self.at_delimiter():
            return "delimiter", b""
        return self.take()

    def at_delimiter(self) -> bool:
        return self.reader.delimiter_at(0)

    def at_end(self) -> bool:
        """True at the statement's delimiter (consumed) or the end of the file."""
        if self.reader.at_eof():
            return True
        if self.at_delimiter():
            self.reader.advance(len(self.reader.delimiter))
            return True
        return False

    # -- tuples ------------------------------------------------------------------------------

    def start_record(self, seen: bytes = b"") -> None:
        self.raw[:] = seen
        self.record_line = self.reader.line
        self.depth = 0

    def tuple(self) -> bytes:
        kind, token = self.significant()
        if token != b"(":
            raise TupleError(f"expected '(' to start a tuple, found {_shown(kind, token)}")
        fields = []
        while True:
            fields.append(self.value())
            kind, token = self.significant()
            if token == b")":
                break
            if token != b",":
                raise TupleError(f"expected ',' or ')' after a value, found {_shown(kind, token)}")
        if len(fields) != self.layout.width:
            width = self.layout.width
            raise TupleError(f"{len(fields)} values where {width} are expected", whole=True)
        return self.encode(fields) + b"\n"

    def value(self) -> bytes | _Text:
        kind, token = self.significant()
        if kind == "str":
            return self.strings(_Text(_unescape(token)))
        if kind == "intro":
            return self.introduced(token.decode("ascii").lower())
        if kind == "hex":
            return _hex(token)
        if kind == "bit":
            digits = token[2:] if token[:2] == b"0b" else token[2:-1]
            return str(int(digits or b"0", 2)).encode()
        if kind == "num":
            return token.lstrip(b"+")
        if kind == "word":
            word = token.upper()
            if word in (b"NULL", b"TRUE", b"FALSE"):
                return {b"NULL": b"NULL", b"TRUE": b"1", b"FALSE": b"0"}[word]
        if kind == "other" and token in (b"'", b'"'):  # only at the end of the file
            raise TupleError("unterminated string: the file ends inside it")
        raise TupleError(f"unsupported value {_shown(kind, token)}")

    def strings(self, text: _Text) -> _Text:
        # Adjacent string literals are one value: 'a' 'b' is 'ab'.
        while (m := self._peek_significant()) is not None and m.lastgroup == "str":
            self.skip_quiet()
            text.data += _unescape(self.take()[1])
        return text

    def introduced(self, charset: str) -> _Text:
        # _binary '..' is bytes: hex in a binary column, and (as for the fast path, which
        # drops the introducer) UTF-8 text elsewhere. _latin1 '..' and the like are text.
        kind, token = self.significant()
        if kind == "str":
            codec = None if charset in ("n", "_binary") else codec_for(charset[1:])
            return self.strings(_Text(_unescape(token), codec or self.layout.codec))
        if kind == "hex":
            return _hex(token)
        raise TupleError(f"expected a string after {charset}, found {_shown(kind, token)}")

    def _peek_significant(self) -> re.Match[bytes] | None:
        rel = 0
        while (m := self.reader.match_at(rel, VALUE)) is not None and m.lastgroup in _QUIET:
            rel = m.end() - self.reader.pos
        return m

    def encode(self, fields: list[bytes | _Text]) -> bytes:
        out = []
        binary, bits = self.layout.binary, self.layout.bits
        for i, field in enumerate(fields):
            if not isinstance(field, _Text):
                out.append(field)
            elif i in binary or i in bits:  # bytes, not text: hex, as the fast path does
                out.append(b"0x" + field.data.hex().upper().encode())
            elif field.written is not None:
                out.append(field.written)
            else:
                out.append(_quoted(field, field.codec or self.layout.codec, i))
        return b",".join(out)

    def skip_statement(self) -> None:
        while not self.reader.at_eof() and not self.at_delimiter():
            self.take()

    def recover(self) -> None:
        """Skip to the end of the broken tuple: its closing parenthesis, the statement's
        delimiter or the end of the file."""
        while self.depth > 0:
            self.skip_quiet()
            if self.at_delimiter() or self.reader.at_eof():
                return
            self.take()

    def raw_text(self) -> str:
        text = decode(bytes(self.raw), self.layout.codec, "backslashreplace").strip()
        return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"


def _quoted(field: _Text, codec: str, index: int) -> bytes:
    try:
        text = decode(field.data, codec)
    except UnicodeDecodeError:
        raise TupleError(f"value {index + 1} is not valid {codec} text", True) from None
    return b"'" + text.encode("utf-8").replace(b"'", b"''") + b"'"


def _unescape(literal: bytes) -> bytes:
    quote = literal[:1]
    return _ESCAPE.sub(lambda m: _escaped(m, quote), literal[1:-1])


def _escaped(m: re.Match[bytes], quote: bytes) -> bytes:
    char = m.group(1)
    if char is None:  # a doubled quote: '' in '...' or "" in "..."
        return quote if m.group()[:1] == quote else m.group()
    if char in (b"%", b"_"):
        return b"\\" + char  # MySQL keeps these two escapes as written
    return _UNESCAPED.get(char, char)


def _hex(token: bytes) -> _Text:
    digits = (token[2:] if token[:2] == b"0x" else token[2:-1]).decode("ascii")
    data = bytes.fromhex("0" + digits if len(digits) % 2 else digits)
    return _Text(data, written=b"0x" + digits.encode())


def _shown(kind: str, token: bytes) -> str:
    if kind == "eof":
        return "the end of the file"
    if kind == "delimiter":
        return "the end of the statement"
    text = token[:40].decode("utf-8", "backslashreplace")
    return repr(text) + ("…" if len(token) > 40 else "")
