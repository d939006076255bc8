"""How a delimited text file is written: encoding, delimiter, quoting, header, column names.

Everything is detected from a sample at the head of the file; the source's configuration
(``encoding``, ``delimiter``, ``quote``, ``escape``, ``header``) overrides any of it.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, SourceError
from workbench.sources import encoding as enc

SAMPLE_BYTES = 1 << 18
SAMPLE_ROWS = 1000
DELIMITERS = (",", "\t", ";", "|")
_EXTENSION_DELIMITER = {".tsv": "\t", ".tab": "\t", ".psv": "|"}
_NAMED_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

_MAGIC = [
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 compound file (an .xls workbook?)"),
    (b"%PDF-", "a PDF document"),
    (b"\x00\x01\x00\x00Standard Jet DB", 'an MS Access database (use kind = "access")'),
    (b"\x00\x01\x00\x00Standard ACE DB", 'an MS Access database (use kind = "access")'),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x1f\x8b", "a gzip-compressed file"),
]
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_BLANK_LINES = re.compile(r"(?:\r\n|\n|\r)*")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_LOOKS_LIKE_DATA = re.compile(
    r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"  # a number
    r"|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?"  # a date, maybe with a time
)


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str
    quote: str  # "" when fields are never quoted
    escape: str  # "" when a quote inside a quoted field is doubled
    header: bool
    skip: int  # blank lines before the first record
    columns: tuple[str, ...]

    @property
    def escapes_by_doubling(self) -> bool:
        return not self.escape or self.escape == self.quote


def detect(path: Path, display: str, overrides: dict[str, Any]) -> Dialect | None:
    """The dialect of ``path``, or ``None`` when it holds no record at all (only blank lines)."""
    _refuse_binary_head(path, display)
    encoding = enc.normalise(str(overrides["encoding"])) if "encoding" in overrides else None
    encoding = encoding or enc.detect(path)
    text, whole = enc.decode_sample(path, encoding, SAMPLE_BYTES)
    text = text.removeprefix("\ufeff")
    _refuse_control_characters(text, display)

    leading = _BLANK_LINES.match(text).group()
    body = text[len(leading) :]
    if not body:
        if whole:
            return None
        raise SourceError(f"{display}: no record in the first {SAMPLE_BYTES:,} bytes")
    if not whole and (cut := max(body.rfind("\n"), body.rfind("\r"))) >= 0:
        body = body[: cut + 1]  # drop the sample's last, probably partial, line

    delimiter = _delimiter_option(overrides) or _detect_delimiter(body, path.suffix.lower())
    quote = _char_option(overrides, "quote")
    quote = _detect_quote(body, delimiter) if quote is None else quote
    escape = _char_option(overrides, "escape") or ""
    rows = _rows(body, delimiter, quote, escape, complete=whole)
    if not rows:
        raise SourceError(f"{display}: the first record is longer than {SAMPLE_BYTES:,} bytes")
    header = overrides.get("header")
    if header is not None and not isinstance(header, bool):
        raise ConfigError(f"'header' must be true or false, not {header!r}")
    header = _looks_like_header(rows[0]) if header is None else header
    if header:
        columns = header_names(rows[0])
    else:
        width = Counter(len(r) for r in rows).most_common(1)[0][0]
        columns = [f"column_{i}" for i in range(1, width + 1)]
    return Dialect(
        encoding=encoding,
        delimiter=delimiter,
        quote=quote,
        escape=escape,
        header=header,
        skip=len(_LINE_BREAK.findall(leading)),
        columns=tuple(columns),
    )


def header_names(raw: list[str]) -> list[str]:
    """Header names as written, with empty and duplicate names made unique deterministically.

    DuckDB compares identifiers case-insensitively, so ``Name`` and ``name`` are duplicates.
    An empty name becomes ``column_<position>``; a repeated one ``<name>_2``, ``<name>_3``...
    """
    given = {n.lower() for n in raw if n.strip()}
    used: set[str] = set()
    names = []
    for position, name in enumerate(raw, start=1):
        generated = not name.strip()
        base = f"column_{position}" if generated else name
        candidate, k = base, 1
        while candidate.lower() in used or ((generated or k > 1) and candidate.lower() in given):
            k += 1
            candidate = f"{base}_{k}"
        used.add(candidate.lower())
        names.append(candidate)
    return names


def _refuse_binary_head(path: Path, display: str) -> None:
    with path.open("rb") as f:
        head = f.read(64)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise SourceError(f"{display}: not delimited text: this is {what}")


def _refuse_control_characters(text: str, display: str) -> None:
    sample = text[: 1 << 16]
    controls = len(_CONTROL.findall(sample))
    if sample and controls / len(sample) > 0.10:
        raise SourceError(
            f"{display}: not delimited text: {controls / len(sample):.0%} of the first "
            f"{len(sample):,} characters are control characters (a binary file?)"
        )


def _delimiter_option(overrides: dict[str, Any]) -> str | None:
    value = overrides.get("delimiter")
    if value is None:
        return None
    value = _NAMED_DELIMITERS.get(str(value).lower(), value)
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
        raise ConfigError(f"'delimiter' must be one character (or 'tab'), not {value!r}")
    return value


def _char_option(overrides: dict[str, Any], key: str) -> str | None:
    value = overrides.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > 1):
        raise ConfigError(f"'{key}' must be one character or empty, not {value!r}")
    return value


def _rows(body: str, delimiter: str, quote: str, escape: str, *, complete: bool) -> list[list[str]]:
    reader = csv.reader(
        io.StringIO(body, newline=""),
        delimiter=delimiter,
        quotechar=quote or None,
        quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
        escapechar=escape if escape and escape != quote else None,
        doublequote=not escape or escape == quote,
        strict=False,
    )
    rows = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) > SAMPLE_ROWS:
                break
    except csv.Error:
        pass  # a sample may end inside a quoted field; what was read is enough
    if not complete and len(rows) > 1:
        rows.pop()  # the sample's last record may be cut short
    return rows


def _detect_delimiter(body: str, suffix: str) -> str:
    preferred = _EXTENSION_DELIMITER.get(suffix)
    candidates = ([preferred] if preferred else []) + [d for d in DELIMITERS if d != preferred]
    best, best_score = preferred or ",", (0.0, 1)
    for delimiter in candidates:
        widths = [len(r) for r in _rows(body, delimiter, '"', "", complete=False)[:200]]
        if not widths:
            continue
        width, hits = max(Counter(widths).items(), key=lambda item: (item[1], item[0]))
        score = (hits / len(widths), width)
        if width >= 2 and score > best_score:
            best, best_score = delimiter, score
    return best


def _detect_quote(body: str, delimiter: str) -> str:
    d = re.escape(delimiter)

    def quoted_fields(q: str) -> int:
        pattern = rf"(?:^|{d})[ ]*{q}(?:[^{q}]|{q}{q})*{q}[ ]*(?={d}|\r|\n|$)"
        return len(re.findall(pattern, body[: 1 << 16], flags=re.MULTILINE))

    return "'" if quoted_fields('"') == 0 and quoted_fields("'") > 0 else '"'


def _looks_like_header(first: list[str]) -> bool:
    # A header names columns; a first record holding a number or a date is data.
    return not any(_LOOKS_LIKE_DATA.fullmatch(v.strip()) for v in first)
