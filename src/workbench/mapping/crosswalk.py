"""Crosswalks: code translation tables (local code to standard code) as Usagi-compatible CSV.

A crosswalk is reviewed by people in a spreadsheet, so reading one is strict: any row the
workbench cannot trust stops the load with FILE:LINE and the cause, rather than silently
translating (or not translating) a code.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from workbench.errors import CrosswalkError
from workbench.mapping import library

COLUMNS = (
    "source_system",
    "source_code",
    "source_display",
    "target_system",
    "target_code",
    "target_display",
    "equivalence",
    "status",
    "reviewer",
    "date",
)
EQUIVALENCES = ("equivalent", "equal", "wider", "narrower", "inexact", "unmatched", "disjoint")
STATUSES = ("approved", "unchecked", "flagged")
FRAME_COLUMNS = ("crosswalk", *COLUMNS[:6], "status")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CrosswalkEntry:
    source_system: str
    source_code: str
    source_display: str
    target_system: str
    target_code: str
    target_display: str
    equivalence: str
    status: str
    reviewer: str
    date: str
    # Where the row was read from, for messages; not part of what the row means.
    line: int = field(default=0, compare=False, repr=False)

    @property
    def code(self) -> str:
        """The source code as it is compared: trimmed, case kept."""
        return self.source_code.strip()

    def row(self) -> list[str]:
        return [getattr(self, c) for c in COLUMNS]


@dataclass(frozen=True)
class Crosswalk:
    name: str
    path: Path
    entries: tuple[CrosswalkEntry, ...]
    sha256: str

    @property
    def approved(self) -> dict[str, CrosswalkEntry]:
        """Source code -> its approved row: the only rows that translate."""
        found: dict[str, CrosswalkEntry] = {}
        for e in self.entries:
            if e.status == "approved":
                found.setdefault(e.code, e)
        return found

    @property
    def status_counts(self) -> dict[str, int]:
        counts = Counter(e.status for e in self.entries)
        return {s: counts.get(s, 0) for s in STATUSES}

    @property
    def target_system(self) -> str:
        systems = sorted({e.target_system for e in self.approved.values()})
        return ", ".join(systems)

    @property
    def source_system(self) -> str:
        systems = Counter(e.source_system for e in self.entries if e.source_system)
        return systems.most_common(1)[0][0] if systems else ""


def find_crosswalk(mappings_dir: Path | None, name: str) -> Crosswalk:
    """The crosswalk ``name``: the workspace's draft first, then the built-in library's."""
    path = library.find(mappings_dir, "crosswalks", name)
    if path is None:
        known = ", ".join(library.names(mappings_dir, "crosswalks")) or "none"
        raise CrosswalkError(f"no crosswalk named {name!r} (crosswalks: {known})")
    return load_crosswalk(path)


def load_crosswalk(path: Path | str) -> Crosswalk:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CrosswalkError(f"{path}: cannot read: {e.strerror or e}") from None
    text = _decode(path, raw)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    entries = tuple(_entries(path, reader))
    _check_conflicts(path, entries)
    return Crosswalk(path.stem, path, entries, hashlib.sha256(raw).hexdigest())


def _decode(path: Path, raw: bytes) -> str:
    # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CrosswalkError(f"{path}:{line}: not UTF-8 text (byte {e.start})") from None


def _entries(path: Path, reader) -> Iterable[CrosswalkEntry]:
    order = None
    line = 1
    try:
        for values in reader:
            if order is None:
                order = _header(path, values)
            elif any(v.strip() for v in values):  # a blank line is layout, not a row
                yield _entry(path, line, order, values)
            line = reader.line_num + 1
    except csv.Error as e:
        raise CrosswalkError(f"{path}:{reader.line_num}: malformed CSV: {e}") from None
    if order is None:
        raise CrosswalkError(f"{path}:1: empty file: expected the header {','.join(COLUMNS)}")


def _header(path: Path, values: list[str]) -> list[str]:
    names = [v.strip() for v in values]
    missing = [c for c in COLUMNS if c not in names]
    extra = [n for n in names if n not in COLUMNS]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if missing or extra or doubled:
        parts = [
            f"missing columns {', '.join(missing)}" if missing else "",
            f"unknown columns {', '.join(extra)}" if extra else "",
            f"repeated columns {', '.join(doubled)}" if doubled else "",
        ]
        raise CrosswalkError(f"{path}:1: bad header: {'; '.join(p for p in parts if p)}")
    return names


def _entry(path: Path, line: int, order: list[str], values: list[str]) -> CrosswalkEntry:
    where = f"{path}:{line}"
    if len(values) != len(order):
        raise CrosswalkError(f"{where}: {len(values)} fields, the header has {len(order)}")
    row = dict(zip(order, values, strict=True))
    entry = CrosswalkEntry(**row, line=line)
    for problem in _problems(entry):
        raise CrosswalkError(f"{where}: {problem}")
    return entry


def _problems(e: CrosswalkEntry) -> Iterable[str]:
    if not e.code:
        yield "empty source_code"
    if e.status not in STATUSES:
        yield f"status {e.status!r} is not one of {', '.join(STATUSES)}"
    if e.equivalence not in EQUIVALENCES:
        yield f"equivalence {e.equivalence!r} is not one of {', '.join(EQUIVALENCES)}"
    if e.date and not _is_iso_date(e.date):
        yield f"date {e.date!r} is not an ISO date (YYYY-MM-DD)"
    if e.status == "approved":
        # An approved row is what the load trusts: it needs a target and a review date.
        for column in ("target_code", "target_system", "date"):
            if not getattr(e, column).strip():
                yield f"approved row for {e.code!r} has no {column}"


def _is_iso_date(text: str) -> bool:
    if not _ISO_DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_conflicts(path: Path, entries: tuple[CrosswalkEntry, ...]) -> None:
    first: dict[str, CrosswalkEntry] = {}
    for e in entries:
        if e.status != "approved":
            continue
        seen = first.setdefault(e.code, e)
        if (seen.target_system, seen.target_code) != (e.target_system, e.target_code):
            raise CrosswalkError(
                f"{path}:{e.line}: {e.code!r} is approved as {e.target_code!r} here and as "
                f"{seen.target_code!r} on line {seen.line}"
            )


def write_crosswalk(crosswalk_or_entries: Crosswalk | Iterable[CrosswalkEntry], path: Path) -> Path:
    """Write a crosswalk CSV atomically: a reader sees the old file or the new, never half."""
    entries = (
        crosswalk_or_entries.entries
        if isinstance(crosswalk_or_entries, Crosswalk)
        else tuple(crosswalk_or_entries)
    )
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(e.row() for e in entries)
    write_atomic(Path(path), buffer.getvalue().encode("utf-8"))
    return Path(path)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def crosswalk_frame(crosswalks: Mapping[str, Crosswalk]) -> pl.DataFrame:
    """Every row of the crosswalks, for DuckDB (``_xw``): codes trimmed, empty text as NULL.

    A code approved twice with the same target keeps one approved row, so a lookup of an
    approved code never returns two rows.
    """
    rows, approved = [], set()
    for name, xw in crosswalks.items():
        for e in xw.entries:
            if e.status == "approved":
                if (name, e.code) in approved:
                    continue
                approved.add((name, e.code))
            values = {c: getattr(e, c).strip() or None for c in FRAME_COLUMNS[1:]}
            rows.append({"crosswalk": name, **values})
    schema = dict.fromkeys(FRAME_COLUMNS, pl.Utf8)
    return pl.DataFrame(rows, schema=schema)
