"""Drift between two profiles of the same source: the rehearsal snapshot against go-live.

What changed in shape: tables and columns added or removed, storage or inferred types changed.
What moved in content: row counts and null rates, flagged when the move passes a threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ProfileError
from workbench.profile import store
from workbench.profile.engine import profile_snapshot
from workbench.profile.model import PrivacyPolicy, Profile
from workbench.progress import SILENT, Progress
from workbench.snapshot.store import Snapshot

ROW_CHANGE = 0.05  # a table's row count moved by 5 % or more
NULL_RATE_CHANGE = 0.05  # a column's empty fraction moved by 5 percentage points or more


@dataclass(frozen=True)
class Thresholds:
    row_change: float = ROW_CHANGE  # relative to the first snapshot's rows
    null_rate_change: float = NULL_RATE_CHANGE  # absolute, in fraction empty


@dataclass
class TypeChange:
    table: str
    column: str
    kind: str  # 'storage_type' or 'inferred_type'
    before: str | None
    after: str | None


@dataclass
class RowChange:
    table: str
    before: int
    after: int
    change: float | None  # (after - before) / before; None when before is 0
    flagged: bool


@dataclass
class NullRateChange:
    table: str
    column: str
    before: float  # fraction empty (NULL, blank or sentinel)
    after: float
    change: float  # after - before, in fraction
    flagged: bool


@dataclass
class Drift:
    before: str  # snapshot names
    after: str
    thresholds: Thresholds
    tables_added: list[str] = field(default_factory=list)
    tables_removed: list[str] = field(default_factory=list)
    columns_added: list[tuple[str, str]] = field(default_factory=list)
    columns_removed: list[tuple[str, str]] = field(default_factory=list)
    type_changes: list[TypeChange] = field(default_factory=list)
    row_changes: list[RowChange] = field(default_factory=list)  # every table whose count moved
    null_rate_changes: list[NullRateChange] = field(default_factory=list)  # flagged only

    @property
    def drifted(self) -> bool:
        """Anything that changes the mapping: shape changes or a flagged move."""
        return bool(
            self.tables_added
            or self.tables_removed
            or self.columns_added
            or self.columns_removed
            or self.type_changes
            or any(r.flagged for r in self.row_changes)
            or self.null_rate_changes
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted": self.drifted}


def compare_profiles(
    before: Profile, after: Profile, thresholds: Thresholds = Thresholds()
) -> Drift:
    """The drift from ``before`` to ``after``."""
    drift = Drift(before.snapshot, after.snapshot, thresholds)
    old = {t.name: t for t in before.tables}
    new = {t.name: t for t in after.tables}
    drift.tables_added = [t for t in new if t not in old]
    drift.tables_removed = [t for t in old if t not in new]
    for name in (t for t in old if t in new):
        a, b = old[name], new[name]
        _rows(drift, name, a.n_rows, b.n_rows)
        a_cols = {c.name: c for c in a.columns}
        b_cols = {c.name: c for c in b.columns}
        drift.columns_added += [(name, c) for c in b_cols if c not in a_cols]
        drift.columns_removed += [(name, c) for c in a_cols if c not in b_cols]
        for column in (c for c in a_cols if c in b_cols):
            x, y = a_cols[column], b_cols[column]
            for kind in ("storage_type", "inferred_type"):
                if getattr(x, kind) != getattr(y, kind):
                    drift.type_changes.append(
                        TypeChange(name, column, kind, getattr(x, kind), getattr(y, kind))
                    )
            moved = y.fraction_empty - x.fraction_empty
            if abs(moved) >= thresholds.null_rate_change and (x.n_rows or y.n_rows):
                drift.null_rate_changes.append(
                    NullRateChange(name, column, x.fraction_empty, y.fraction_empty, moved, True)
                )
    return drift


def _rows(drift: Drift, table: str, before: int, after: int) -> None:
    if before == after:
        return
    change = (after - before) / before if before else None
    flagged = change is None or abs(change) >= drift.thresholds.row_change
    drift.row_changes.append(RowChange(table, before, after, change, flagged))


def compare_snapshots(
    before: Snapshot,
    after: Snapshot,
    reports_dir: Path | None = None,
    thresholds: Thresholds = Thresholds(),
    progress: Progress = SILENT,
) -> Drift:
    """Drift between two snapshots, reusing their ``profile.json`` when it is of that very
    snapshot (same fingerprint) and profiling them otherwise."""
    return compare_profiles(
        _profile_of(before, reports_dir, progress),
        _profile_of(after, reports_dir, progress),
        thresholds,
    )


def _profile_of(snapshot: Snapshot, reports_dir: Path | None, progress: Progress) -> Profile:
    if reports_dir is not None:
        path = store.profile_path(reports_dir, snapshot.name)
        if path.is_file():
            try:
                stored = store.read_profile(path)
            except ProfileError:
                stored = None
            if stored is not None and stored.fingerprint == snapshot.manifest.fingerprint:
                return stored
    # Drift reads counts and types only, never values: the default policy is enough.
    return profile_snapshot(snapshot, PrivacyPolicy(), progress)
