"""Profile a snapshot: every table and column, exactly, then the keys across tables.

    from workbench.profile.engine import profile_snapshot
    profile = profile_snapshot(open_snapshot(snapshots_dir, "rehearsal-1"))

The snapshot is attached read-only to a scratch DuckDB database with a memory limit and a
spill directory, so memory stays bounded however large the tables are.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from workbench import __version__
from workbench.errors import ProfileError
from workbench.profile import patterns, privacy, relationships
from workbench.profile.columns import ColumnFacts, ColumnRef, profile_column
from workbench.profile.infer import infer_type
from workbench.profile.model import PrivacyPolicy, Profile, Relationship, TableProfile
from workbench.profile.relationships import KeyColumn
from workbench.progress import SILENT, Progress
from workbench.snapshot.staging import META, quote_ident, sql_string
from workbench.snapshot.store import Snapshot

MEMORY_LIMIT = "1GB"  # DuckDB's share; the process stays well under 2 GB
TOP_K = 20


def profile_snapshot(
    snapshot: Snapshot,
    policy: PrivacyPolicy = PrivacyPolicy(),
    progress: Progress = SILENT,
    *,
    top_k: int = TOP_K,
    memory_limit: str = MEMORY_LIMIT,
    spill_dir: Path | None = None,
) -> Profile:
    """The data migration map of ``snapshot``, already safe to share under ``policy``."""
    with _scratch_db(snapshot, memory_limit, spill_dir) as con:
        columns = _columns(con, snapshot)
        facts = _profile_columns(con, columns, policy, top_k, progress)
        typed = {t: [KeyColumn(f, infer_type(f)) for f in fs] for t, fs in facts.items()}
        rows = {table: _rows(con, table) for table in typed}
        keys, references = _keys_and_references(con, typed, rows, progress)
    return Profile(
        snapshot=snapshot.name,
        fingerprint=snapshot.manifest.fingerprint,
        tool_version=__version__,
        policy=policy,
        tables=[
            TableProfile(
                name=table,
                n_rows=rows[table],
                columns=[
                    privacy.column_profile(c.facts, c.inferred_type, policy, top_k) for c in cols
                ],
                candidate_keys=keys[table],
            )
            for table, cols in typed.items()
        ],
        relationships=references,
        approximations=_approximations(facts),
    )


@contextmanager
def _scratch_db(
    snapshot: Snapshot, memory_limit: str, spill_dir: Path | None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A scratch database with the snapshot attached read-only as ``snap``."""
    if not snapshot.staging_path.is_file():
        raise ProfileError(
            f"snapshot {snapshot.name!r}: no staging database at {snapshot.staging_path}"
        )
    spill = Path(tempfile.mkdtemp(prefix="workbench-profile-", dir=spill_dir))
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": str(spill)})
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        con.execute(f"ATTACH {sql_string(str(snapshot.staging_path))} AS snap (READ_ONLY)")
        patterns.register(con)
        yield con
    except duckdb.Error as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ProfileError(f"snapshot {snapshot.name!r}: {first_line}") from e
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _columns(con, snapshot: Snapshot) -> dict[str, list[ColumnRef]]:
    """Tables in manifest order, columns in table order, with storage and declared types."""
    rows = con.execute(
        "SELECT c.table_name, c.column_name, c.ordinal_position, c.data_type, d.declared_type "
        "FROM information_schema.columns c "
        "JOIN information_schema.tables t "
        "  ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema "
        "  AND t.table_name = c.table_name "
        f"LEFT JOIN snap.{META}.columns d "
        "  ON d.table_name = c.table_name AND d.column_name = c.column_name "
        "WHERE c.table_catalog = 'snap' AND c.table_schema = 'main' "
        "  AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    by_table: dict[str, list[ColumnRef]] = {}
    for table, name, position, storage, declared in rows:
        by_table.setdefault(table, []).append(ColumnRef(table, name, position, storage, declared))
    order = [t.name for t in snapshot.manifest.tables if t.name in by_table]
    order += sorted(set(by_table) - set(order))
    return {t: by_table[t] for t in order}


def _profile_columns(
    con, columns: dict[str, list[ColumnRef]], policy: PrivacyPolicy, top_k: int, progress
) -> dict[str, list[ColumnFacts]]:
    total = sum(len(c) for c in columns.values())
    out: dict[str, list[ColumnFacts]] = {}
    with progress.task("profiling columns", total=total) as task:
        for table, refs in columns.items():
            out[table] = []
            for ref in refs:
                out[table].append(profile_column(con, ref, policy.min_cell_count, top_k))
                task.advance()
    return out


def _keys_and_references(
    con, typed: dict[str, list[KeyColumn]], rows: dict[str, int], progress: Progress
) -> tuple[dict[str, list[list[str]]], list[Relationship]]:
    with progress.task("keys and references", total=len(typed) + 1) as task:
        keys = {}
        for table, cols in typed.items():
            keys[table] = relationships.candidate_keys(con, table, rows[table], cols)
            task.advance()
        every_column = [c for cols in typed.values() for c in cols]
        references = relationships.infer_foreign_keys(con, every_column, keys)
        task.advance()
    return keys, references


def _rows(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM snap.main.{quote_ident(table)}").fetchone()[0]


def _approximations(facts: dict[str, list[ColumnFacts]]) -> list[str]:
    """What in the profile is a guess rather than a count (empty: everything is exact)."""
    two_digit = [f for table_facts in facts.values() for f in table_facts if f.two_digit_year_rows]
    if not two_digit:
        return []
    rows = sum(f.two_digit_year_rows for f in two_digit)
    names = ", ".join(f"{f.table}.{f.name}" for f in two_digit)
    return [
        f"year histograms: {rows:,} dates written with two-digit years (in {names}) are placed "
        "in the latest century that does not put them in the future"
    ]
