"""Suggestions for unmapped codes: the closest known targets by display text.

A suggestion is a draft for a reviewer, never a translation: it is written as ``unchecked``
with equivalence ``inexact``, and only a person approving it makes it translate.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from workbench.mapping.crosswalk import Crosswalk, CrosswalkEntry, load_crosswalk, write_atomic

# Below this a "best" target is noise (e.g. two displays sharing only the word VACCINE).
FLOOR = 0.45

# Abbreviations seen in legacy clinic codes and displays, spelled out so that "FLU VACCINE"
# and "Influenza, seasonal" share words.
ABBREVIATIONS = {
    "FLU": "INFLUENZA",
    "HEP": "HEPATITIS",
    "HEPA": "HEPATITIS A",
    "HEPB": "HEPATITIS B",
    "VACC": "VACCINE",
    "VAX": "VACCINE",
    "TB": "TUBERCULOSIS",
    "TD": "TETANUS DIPHTHERIA",
    "PNEUMO": "PNEUMOCOCCAL",
    "MENING": "MENINGOCOCCAL",
    "TYPH": "TYPHOID",
    "VAR": "VARICELLA",
    "IPV": "POLIO",
    "MMR": "MEASLES MUMPS RUBELLA",
    "PF": "PRESERVATIVE FREE",
    "STDY": "STUDY",
    "CHOL": "CHOLESTEROL",
    "TRIG": "TRIGLYCERIDE",
    "TRIGLYCERIDES": "TRIGLYCERIDE",
    "GLU": "GLUCOSE",
    "RND": "RANDOM",
}
_NON_WORD = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True)
class Candidate:
    target_system: str
    target_code: str
    target_display: str
    score: float


@dataclass(frozen=True)
class Suggestion:
    code: str
    display: str | None
    rows: int
    entry: CrosswalkEntry | None  # None: no candidate reached the floor
    score: float
    runner_ups: tuple[Candidate, ...]

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        target = None
        if e is not None:
            target = {k: getattr(e, k) for k in ("target_system", "target_code", "target_display")}
        return {
            "code": self.code,
            "display": self.display,
            "rows": self.rows,
            "score": self.score,
            "suggested": target,
            "runner_ups": [asdict(c) for c in self.runner_ups],
        }


def normalize(text: str) -> str:
    words = _NON_WORD.sub(" ", text.upper()).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def similarity(a: str, b: str) -> float:
    """Token overlap and character similarity, equally weighted, of normalised text."""
    a, b = normalize(a), normalize(b)
    if not a or not b:
        return 0.0
    ta, tb = set(a.split()), set(b.split())
    jaccard = len(ta & tb) / len(ta | tb)
    return (jaccard + difflib.SequenceMatcher(None, a, b).ratio()) / 2


def suggest(
    crosswalk: Crosswalk,
    unmapped: Iterable[tuple[str, str | None, int]],
    vocabulary: Sequence[tuple[str, str, str]] | None = None,
    limit: int = 3,
    *,
    floor: float = FLOOR,
    today: date | None = None,
) -> list[Suggestion]:
    """One Suggestion per unmapped ``(code, display, rows)``, best target first.

    Candidates are the crosswalk's approved targets (their target and source displays both
    count as evidence) plus ``vocabulary`` ``(system, code, display)`` rows.
    """
    evidence = _evidence(crosswalk, vocabulary or ())
    reviewed = (today or date.today()).isoformat()
    return [
        _suggestion(crosswalk, code, display, rows, evidence, limit, floor, reviewed)
        for code, display, rows in unmapped
    ]


def _evidence(crosswalk: Crosswalk, vocabulary) -> dict[tuple[str, str], tuple[str, set[str]]]:
    """(system, code) -> (its display, every text that describes it)."""
    found: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for e in crosswalk.approved.values():
        _, texts = found.setdefault((e.target_system, e.target_code), (e.target_display, set()))
        texts.update(t for t in (e.target_display, e.source_display) if t)
    for system, code, display in vocabulary:
        _, texts = found.setdefault((system, code), (display, set()))
        texts.add(display)
    return found


def _suggestion(crosswalk, code, display, rows, evidence, limit, floor, reviewed) -> Suggestion:
    queries = [q for q in (display, code) if q]
    ranked = sorted(
        (
            Candidate(system, target, shown, max(similarity(q, t) for q in queries for t in texts))
            for (system, target), (shown, texts) in evidence.items()
        ),
        key=lambda c: (-c.score, c.target_system, c.target_code),
    )[: max(limit, 1)]
    if not ranked or ranked[0].score < floor:
        return Suggestion(code, display, rows, None, ranked[0].score if ranked else 0.0, ())
    best = ranked[0]
    entry = CrosswalkEntry(
        source_system=crosswalk.source_system,
        source_code=code,
        source_display=display or "",
        target_system=best.target_system,
        target_code=best.target_code,
        target_display=best.target_display,
        equivalence="inexact",
        status="unchecked",
        reviewer="",
        date=reviewed,
    )
    return Suggestion(code, display, rows, entry, best.score, tuple(ranked[1:]))


def apply_suggestions(
    crosswalk: Crosswalk, suggestions: Iterable[Suggestion], path: Path
) -> Crosswalk:
    """Append the suggestions to the draft CSV at ``path`` and return it re-read.

    Rows already there are kept byte for byte (approved or not): a code that already has a
    row is not suggested again. A draft that does not exist yet starts as a copy of
    ``crosswalk``'s file (e.g. the built-in library's).
    """
    path = Path(path)
    base = path.read_bytes() if path.is_file() else crosswalk.path.read_bytes()
    current = load_crosswalk(path) if path.is_file() else crosswalk
    taken = {e.code for e in current.entries}
    new = [s.entry for s in suggestions if s.entry is not None and s.entry.code not in taken]
    write_atomic(path, base + _rows_text(base, new))
    return load_crosswalk(path)


def _rows_text(base: bytes, entries: list[CrosswalkEntry]) -> bytes:
    newline = "\r\n" if b"\r\n" in base else "\n"
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator=newline).writerows(e.row() for e in _unique(entries))
    text = buffer.getvalue()
    if text and base and not base.endswith(b"\n"):
        text = newline + text
    return text.encode("utf-8")


def _unique(entries: list[CrosswalkEntry]) -> list[CrosswalkEntry]:
    first: dict[str, CrosswalkEntry] = {}
    for e in entries:
        first.setdefault(e.code, e)
    return list(first.values())
