"""Finding and opening snapshots that have been taken."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from workbench.errors import SnapshotError
from workbench.snapshot.manifest import MANIFEST_NAME, Manifest, sha256_file
from workbench.snapshot.staging import META

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

    def tables_frame(self) -> pl.DataFrame:
        """One row per table: rows, columns, rejects and records read."""
        return pl.DataFrame(
            [
                {
                    "table": t.name,
                    "rows": t.rows,
                    "columns": len(t.columns),
                    "rejected": t.rejected,
                    "records_read": t.input_records,
                }
                for t in self.manifest.tables
            ]
        )

    def rejects_summary(self) -> pl.DataFrame:
        """Rejected records counted per table, file and reason (raw text stays in staging)."""
        with self.connect() as con:
            return con.sql(
                f"SELECT table_name, file, reason, count(*) AS records, min(line) AS first_line "
                f"FROM {META}.rejects GROUP BY ALL ORDER BY table_name, records DESC"
            ).pl()

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
