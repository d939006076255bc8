"""Acquisition against its peers, on the same generated data, in the same run.

1. mysqldump: `workbench acquire` of a generated dump (>= 5M rows by default) against
   restoring the same dump into MariaDB with the `mariadb` client. Target: >= 2x faster.
2. CSV: `workbench acquire` of the same clinic as a folder of CSVs against a bare DuckDB
   `read_csv` of the same files. Target: within 1.5x.

    .venv/bin/python benchmarks/bench_acquire.py [--people 110000] [--workdir benchmarks/out]

The machine is shared and noisy: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

from workbench.snapshot import acquire
from workbench.sources.delimited import DelimitedSource
from workbench.sources.mysqldump import MysqldumpSource
from workbench.synth import generate

MARIADB = ["mariadb", "-h127.0.0.1", "-uroot"]


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def workbench_acquire(source, workdir: Path):
    snapshots = Path(tempfile.mkdtemp(dir=workdir, prefix="snapshots-"))
    try:
        seconds, result = timed(lambda: acquire(source, snapshots, "bench"))
        return seconds, result.manifest.rows
    finally:
        shutil.rmtree(snapshots, ignore_errors=True)


def mariadb_restore(dump: Path) -> tuple[float, int]:
    db = "bench_restore"
    subprocess.run(
        [*MARIADB, "-e", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}"], check=True
    )
    try:
        with dump.open("rb") as f:
            seconds, _ = timed(lambda: subprocess.run([*MARIADB, db], stdin=f, check=True))
        tables = subprocess.run(
            [*MARIADB, "-N", "-e", "SHOW TABLES", db], check=True, capture_output=True, text=True
        ).stdout.split()
        count_sql = " UNION ALL ".join(f"SELECT COUNT(*) FROM `{t}`" for t in tables)
        counts = subprocess.run(
            [*MARIADB, "-N", "-e", count_sql, db], check=True, capture_output=True, text=True
        ).stdout.split()
        return seconds, sum(int(c) for c in counts)
    finally:
        subprocess.run([*MARIADB, "-e", f"DROP DATABASE IF EXISTS {db}"], check=True)


def duckdb_read_csv(folder: Path, workdir: Path) -> tuple[float, int]:
    path = workdir / "bare.duckdb"
    path.unlink(missing_ok=True)

    def run() -> int:
        con = duckdb.connect(str(path))
        total = 0
        for f in sorted(folder.glob("*.csv")):
            con.execute(f'CREATE TABLE "{f.stem}" AS SELECT * FROM read_csv(?)', [str(f)])
            total += con.execute(f'SELECT count(*) FROM "{f.stem}"').fetchone()[0]
        con.close()
        return total

    try:
        return timed(run)
    finally:
        path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--people",
        type=int,
        default=110_000,
        help="people in the synthetic clinic (110k gives about 5.3M rows)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--only", choices=["mysqldump", "csv"], help="run one comparison")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)

    print(f"generating the synthetic clinic: {args.people:,} people ...", flush=True)
    dump_dir, csv_dir = work / "dump", work / "csv"
    synth = generate(people=args.people, seed=7, fmt="mysqldump", out=dump_dir)
    dump = dump_dir / "ohm.sql"
    print(f"  {synth.total_rows:,} rows, dump {dump.stat().st_size / 1e6:,.0f} MB")

    results = {"people": args.people, "rows": synth.total_rows}
    if args.only != "csv":
        compare_dump(dump, work, synth.total_rows, results)
    if args.only != "mysqldump":
        compare_csv(args.people, csv_dir, work, synth.total_rows, results)
    (work / "bench_acquire.json").write_text(json.dumps(results, indent=2) + "\n")


def compare_dump(dump: Path, work: Path, expected: int, results: dict) -> None:
    source = MysqldumpSource("bench", {"kind": "mysqldump", "path": str(dump)}, work)
    wb_s, wb_rows = workbench_acquire(source, work)
    db_s, db_rows = mariadb_restore(dump)
    assert wb_rows == db_rows == expected, (wb_rows, db_rows, expected)
    results["mysqldump"] = {
        "workbench_s": wb_s,
        "mariadb_restore_s": db_s,
        "speedup": db_s / wb_s,
        "target": ">= 2.0",
    }
    print(
        f"mysqldump  workbench acquire {wb_s:7.1f} s | mariadb restore {db_s:7.1f} s | "
        f"workbench is {db_s / wb_s:.2f}x faster (target >= 2x)"
    )


def compare_csv(people: int, csv_dir: Path, work: Path, expected: int, results: dict) -> None:
    generate(people=people, seed=7, fmt="csv", out=csv_dir)
    source = DelimitedSource("bench", {"kind": "csv", "path": str(csv_dir)}, work)
    # Alternate the two, twice, and keep each one's best time, so drifting load on a
    # shared machine hits both alike.
    runs = [(workbench_acquire(source, work), duckdb_read_csv(csv_dir, work)) for _ in range(2)]
    for i, ((w, _), (b, _)) in enumerate(runs, 1):
        print(f"  csv run {i}: workbench {w:.1f} s, duckdb read_csv {b:.1f} s")
    wb_s, wb_rows = min(r[0] for r in runs)
    bare_s, bare_rows = min(r[1] for r in runs)
    assert wb_rows == bare_rows == expected, (wb_rows, bare_rows, expected)
    results["csv"] = {
        "workbench_s": wb_s,
        "duckdb_read_csv_s": bare_s,
        "ratio": wb_s / bare_s,
        "target": "<= 1.5",
    }
    print(
        f"csv        workbench acquire {wb_s:7.1f} s | duckdb read_csv {bare_s:7.1f} s | "
        f"ratio {wb_s / bare_s:.2f} (target <= 1.5)"
    )


if __name__ == "__main__":
    main()
