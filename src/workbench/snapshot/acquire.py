"""Taking a snapshot: load a source into a fresh staging database, count it, seal it.

A snapshot is built in a hidden partial directory and renamed into place only when it is
complete and its counts balance, so a failure never leaves a half-written snapshot behind.
Re-acquiring the same input under the same name is a no-op; different content under an
existing name is refused, because a snapshot is never modified after it is taken.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from workbench import __version__
from workbench.errors import SnapshotError
from workbench.progress import SILENT, Progress
from workbench.snapshot import census
from workbench.snapshot.manifest import InputFile, Manifest, sha256_file
from workbench.snapshot.staging import Staging
from workbench.snapshot.store import STAGING_NAME
from workbench.sources.base import Source

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Acquired:
    manifest: Manifest
    path: Path
    created: bool  # False when an identical snapshot already existed


def acquire(
    source: Source, snapshots_dir: Path, name: str, progress: Progress = SILENT
) -> Acquired:
    if not _NAME.match(name):
        raise SnapshotError(f"snapshot name {name!r}: use letters, digits, '.', '_' or '-'")
    final = snapshots_dir / name
    partial = snapshots_dir / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        manifest = _build(source, partial, name, progress)
        if final.exists():
            return _existing(final, manifest, partial)
        _seal(partial)
        partial.rename(final)
        return Acquired(manifest, final, created=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _build(source: Source, directory: Path, name: str, progress: Progress) -> Manifest:
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    # Checksumming overlaps the load: hashlib releases the GIL, so it costs little wall time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checksums = pool.submit(lambda: [_input_file(f, source.root) for f in source.input_files()])
        manifest = _load(source, directory, name, started, checksums, progress)
    _check_balance(manifest)
    manifest.fingerprint = manifest.compute_fingerprint()
    manifest.staging_sha256 = sha256_file(directory / STAGING_NAME)
    manifest.duration_s = round(time.perf_counter() - t0, 3)
    manifest.write(directory)
    return manifest


def _load(
    source: Source,
    directory: Path,
    name: str,
    started: datetime,
    checksums: Future,
    progress: Progress,
) -> Manifest:
    staging = Staging.create(directory / STAGING_NAME)
    try:
        source.load(staging, progress)
        tables = census.tables(staging)
        manifest = Manifest(
            snapshot=name,
            source=source.describe(),
            tool_version=__version__,
            duckdb_version=duckdb.__version__,
            started_at=started.isoformat(timespec="seconds"),
            duration_s=0.0,
            inputs=checksums.result(),
            tables=tables,
            rejects_hash=census.rejects_hash(staging),
            skipped=census.skipped(staging),
        )
    finally:
        staging.close()
    return manifest


def _input_file(path: Path, root: Path) -> InputFile:
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return InputFile(str(shown), path.stat().st_size, sha256_file(path))


def _check_balance(manifest: Manifest) -> None:
    for t in manifest.tables:
        if not t.balanced:
            raise SnapshotError(
                f"table {t.name}: {t.rows} loaded + {t.rejected} rejected != "
                f"{t.input_records} records read; refusing to take an unbalanced snapshot"
            )


def _existing(final: Path, manifest: Manifest, partial: Path) -> Acquired:
    existing = Manifest.read(final)
    if existing.fingerprint != manifest.fingerprint:
        raise SnapshotError(
            f"snapshot {final.name!r} already exists with different content "
            f"(fingerprint {existing.fingerprint[:12]} vs {manifest.fingerprint[:12]}); "
            "snapshots are immutable, acquire under a new name"
        )
    shutil.rmtree(partial)
    return Acquired(existing, final, created=False)


def _seal(directory: Path) -> None:
    for f in directory.iterdir():
        f.chmod(0o444)
