"""Finding and opening snapshots that have been taken."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from workbench.errors import SnapshotError
from workbench.snapshot.manifest import MANIFEST_NAME, Manifest, sha256_file

STAGING_NAME = "staging.duckdb"


@dataclass(frozen=True)
class Snapshot:
    path: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.snapshot

    @property
    def staging_path(self) -> Path:
        return self.path / STAGING_NAME

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection: a snapshot is never modified after it is taken."""
        return duckdb.connect(str(self.staging_path), read_only=True)

    def verify(self) -> bool:
        """True if the staging database is byte-for-byte what was sealed."""
        return sha256_file(self.staging_path) == self.manifest.staging_sha256


def open_snapshot(snapshots_dir: Path, name: str) -> Snapshot:
    path = snapshots_dir / name
    if not (path / MANIFEST_NAME).is_file():
        known = ", ".join(s.name for s in list_snapshots(snapshots_dir)) or "none"
        raise SnapshotError(f"no snapshot named {name!r} in {snapshots_dir} (snapshots: {known})")
    return Snapshot(path, Manifest.read(path))


def list_snapshots(snapshots_dir: Path) -> list[Snapshot]:
    if not snapshots_dir.is_dir():
        return []
    found = [
        Snapshot(p, Manifest.read(p))
        for p in sorted(snapshots_dir.iterdir())
        if not p.name.startswith(".") and (p / MANIFEST_NAME).is_file()
    ]
    return sorted(found, key=lambda s: s.manifest.started_at)
