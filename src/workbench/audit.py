"""The audit log: ``state/audit.jsonl``, append-only and hash-chained.

Every line is one entry, the canonical JSON (sorted keys, compact) of its fields. ``hash`` is
the sha256 of the entry without ``hash``, and ``prev`` is the hash of the entry before it, so
editing, inserting or deleting a line breaks the chain. The last entry's seq and hash (the
head) are also kept in ``state/state.sqlite``: that is what reveals a truncated tail or a
deleted log, which a chain alone cannot.

The chain is not signed: someone who can write both files can rewrite history consistently.
It makes accidents and casual edits evident; keep backups of ``state/`` for the rest.

No secret value is ever written here. Callers pass names (a source, a sealed reference such
as ``env:NAME``), never what a reference resolves to; ``details`` is logged verbatim.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from workbench import state
from workbench.errors import AuditError
from workbench.workspace import Workspace

LOG_NAME = "audit.jsonl"
GENESIS = "0" * 64
OUTCOMES = ("ok", "refused", "failed")
FIELDS = (
    "seq",
    "at",
    "user",
    "role",
    "action",
    "outcome",
    "job",
    "template",
    "snapshot",
    "counts",
    "details",
    "prev",
    "hash",
)
EXPORT_FORMATS = ("csv", "jsonl")


class ActorLike(Protocol):
    user: str
    role: str | None


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)


def canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"))


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.path = ws.root / state.STATE_DIR / LOG_NAME
        self.where = f"{state.STATE_DIR}/{LOG_NAME}"

    def append(
        self,
        action: str,
        *,
        actor: ActorLike,
        outcome: str = "ok",
        job: str | None = None,
        template: dict[str, Any] | None = None,
        snapshot: dict[str, Any] | None = None,
        counts: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one entry and return it; durable on disk when this returns."""
        if outcome not in OUTCOMES:
            raise ValueError(f"audit outcome {outcome!r} is not one of {OUTCOMES}")
        with state.file_lock(self.ws, "audit"), state.connection(self.ws) as con:
            seq, prev = self._tail(con)
            entry: dict[str, Any] = {
                "seq": seq + 1,
                "at": datetime.now(UTC).isoformat(timespec="microseconds"),
                "user": actor.user,
                "role": actor.role,
                "action": action,
                "outcome": outcome,
                "job": job,
                "template": template,
                "snapshot": snapshot,
                "counts": counts,
                "details": details,
                "prev": prev,
            }
            entry["hash"] = entry_hash(entry)
            self._write_line(canonical(entry) + "\n")
            # Only after the line is durable: the head never claims an entry that is not there.
            con.execute(
                "INSERT INTO audit_head(id, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (entry["seq"], entry["hash"]),
            )
        return entry

    def _tail(self, con: Any) -> tuple[int, str]:
        """The (seq, hash) to chain onto, refusing to write over a log that lost entries."""
        last = _last_line(self.path)
        seq, digest = 0, GENESIS
        if last is not None:
            try:
                entry = json.loads(last)
                seq, digest = int(entry["seq"]), str(entry["hash"])
            except (ValueError, KeyError, TypeError):
                raise AuditError(
                    f"{self.where}: the last line is not an audit entry; "
                    "run 'workbench audit verify'"
                ) from None
        head = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        # The file may be one entry ahead of the head (a crash between the two writes), never
        # behind: appending then would hide the loss by moving the head.
        if head is not None and (seq < head[0] or (seq == head[0] and digest != head[1])):
            raise AuditError(
                f"{self.where}: ends at entry {seq} but state.sqlite records entry {head[0]}; "
                "the log was truncated, replaced or deleted: run 'workbench audit verify'"
            )
        return seq, digest

    def _write_line(self, line: str) -> None:
        # One write() on an O_APPEND descriptor: a line is never interleaved with another's.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        except OSError as e:
            raise AuditError(f"{self.where}: cannot append: {e.strerror or e}") from None
        finally:
            os.close(fd)

    def head(self) -> tuple[int, str] | None:
        with state.connection(self.ws) as con:
            row = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                yield number, raw.rstrip(b"\n")

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry in order; AuditError on a line that is not an entry."""
        for number, raw in self._lines():
            try:
                entry = json.loads(raw)
            except ValueError:
                raise AuditError(f"{self.where}:{number}: not JSON") from None
            if not isinstance(entry, dict):
                raise AuditError(f"{self.where}:{number}: not an audit entry")
            yield entry

    def verify(self) -> AuditVerification:
        """Walk the chain and compare its end with the head in state.sqlite."""
        chain = _ChainCheck(self.where)
        for number, raw in self._lines():
            chain.check(number, raw)
        chain.check_head(self.head())
        return AuditVerification(not chain.problems, chain.lines, chain.problems)

    def export(self, fmt: str, out: Path) -> int:
        """Write every entry to ``out`` as csv or jsonl; returns the number of entries."""
        with out.open("w", encoding="utf-8", newline="") as f:
            return self.write(fmt, f)

    def write(self, fmt: str, stream: TextIO) -> int:
        if fmt not in EXPORT_FORMATS:
            raise AuditError(f"export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
        writer = csv.DictWriter(stream, fieldnames=FIELDS, extrasaction="ignore")
        if fmt == "csv":
            writer.writeheader()
        count = 0
        for entry in self.entries():
            if fmt == "csv":
                writer.writerow({k: _cell(entry.get(k)) for k in FIELDS})
            else:
                stream.write(canonical(entry) + "\n")
            count += 1
        return count


class _ChainCheck:
    """The state of one pass over the log: what the next line must look like."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.lines = 0
        self.expected_seq = 1
        self.prev = GENESIS
        self.by_seq: dict[int, tuple[int, str]] = {}  # seq -> (line, hash)
        self.problems: list[str] = []

    def problem(self, number: int, message: str) -> None:
        self.problems.append(f"{self.where}:{number}: {message}")

    def check(self, number: int, raw: bytes) -> None:
        self.lines = number
        try:
            entry = json.loads(raw)
            seq, recorded, prev = int(entry["seq"]), str(entry["hash"]), entry["prev"]
        except (ValueError, KeyError, TypeError):
            self.problem(number, "not a JSON audit entry (damaged or hand-edited)")
            self.expected_seq += 1
            self.prev = None  # unknown: the next line's prev cannot be checked
            return
        computed = entry_hash(entry)
        if computed != recorded:
            self.problem(
                number,
                f"entry {seq} was edited (sha256 {computed[:8]}… ≠ recorded {recorded[:8]}…)",
            )
        if seq != self.expected_seq:
            self.problem(
                number,
                f"seq {seq} where {self.expected_seq} was expected: "
                "an entry was deleted or inserted here",
            )
        elif self.prev is not None and prev != self.prev:
            self.problem(
                number, f"entry {seq} does not chain onto the line before it (prev mismatch)"
            )
        self.by_seq[seq] = (number, recorded)
        self.expected_seq, self.prev = seq + 1, recorded

    def check_head(self, head: tuple[int, str] | None) -> None:
        if head is None:
            return
        seq, digest = head
        if seq not in self.by_seq:
            what = "the log is missing" if self.lines == 0 else "the tail was truncated"
            self.problem(
                self.lines + 1,
                f"state.sqlite records {seq} entries but the log has {self.lines} lines: {what}",
            )
        elif self.by_seq[seq][1] != digest:
            self.problem(
                self.by_seq[seq][0],
                f"entry {seq} differs from the head recorded in state.sqlite (replaced)",
            )


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else value


def _last_line(path: Path, block: int = 4096) -> bytes | None:
    """The last line of ``path`` without reading the whole log; None if it is empty."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return None
    with f:
        pos = f.seek(0, os.SEEK_END)
        tail = b""
        # Read backwards until the tail holds a newline before its last line.
        while pos > 0 and b"\n" not in tail.rstrip(b"\n"):
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            tail = f.read(step) + tail
    lines = tail.rstrip(b"\n").split(b"\n")
    return lines[-1] if lines[-1] else None
