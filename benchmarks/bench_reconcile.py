"""Row-level reconciliation against datacompy, on the same generated data, in the same run.

Two Parquet files of ``--rows`` rows and ten columns (a key, doubles, integers, text, a date,
a boolean, some NULLs), the second with a few injected differences: changed values, NULLed
values, rows missing and rows added. Each side runs in its own process, reads both files and
counts, per column, the matched rows whose values differ:

- workbench: ``workbench.jobs.reconcile.compare_relations``, the engine of ``row_reconcile``
  (a DuckDB full outer join on the key, in key ranges);
- datacompy: ``datacompy.PolarsCompare`` (polars backend), in its own environment via uv.

Both must find the same counts. Targets: >= 3x faster, <= 1/3 of datacompy's peak memory.

    .venv/bin/python benchmarks/bench_reconcile.py [--rows 5000000] [--workdir benchmarks/out]

Times and peak RSS are measured inside each process, from reading the files to the counts
(interpreter start-up and imports excluded). The machine is shared and noisy: each side runs
``--repeat`` times, alternating, and keeps its best time; read the ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

UV = os.path.expanduser("~/.local/bin/uv")
DATACOMPY_ENV = [UV, "run", "--no-project", "--with", "datacompy", "--with", "polars", "python"]
KEY = "id"
COLUMNS = ["amount", "ratio", "score", "qty", "days", "status", "ref", "day", "flag"]

# The left table, from a hash of the row number so that any --rows is reproducible.
LEFT_SQL = """
SELECT i AS id,
  CASE WHEN i % 97 = 0 THEN NULL ELSE CAST(hash(i, 1) % 100000 AS DOUBLE) / 100 END AS amount,
  CAST(hash(i, 2) % 1000000 AS DOUBLE) / 1000 AS ratio,
  CAST(hash(i, 3) % 300 AS DOUBLE) / 7 AS score,
  CAST(hash(i, 4) % 100000 AS BIGINT) AS qty,
  CAST(hash(i, 5) % 1000 AS INTEGER) AS days,
  ['active', 'terminated', 'leave', 'unknown'][CAST(1 + hash(i, 6) % 4 AS BIGINT)] AS status,
  CASE WHEN i % 89 = 0 THEN NULL ELSE 'ohm-' || (hash(i, 7) % 10000000) END AS ref,
  DATE '2000-01-01' + CAST(hash(i, 8) % 9000 AS INTEGER) AS day,
  hash(i, 9) % 2 = 0 AS flag
FROM range({rows}) t(i)
"""

# The right table: the same rows with differences injected at fixed strides.
RIGHT_SQL = """
SELECT * REPLACE (
    CASE WHEN id % 100003 = 1 THEN amount + 0.01 ELSE amount END AS amount,
    CASE WHEN id % 250007 = 5 THEN ratio * (1 + 1e-15) ELSE ratio END AS ratio,
    CASE WHEN id % 200009 = 2 THEN 'other' ELSE status END AS status,
    CASE WHEN id % 150001 = 3 THEN NULL ELSE ref END AS ref,
    CASE WHEN id % 300007 = 4 THEN day + 1 ELSE day END AS day,
    CASE WHEN id % 400009 = 6 THEN NOT flag ELSE flag END AS flag)
FROM ({left}) WHERE id % 1000003 <> 7
UNION ALL
SELECT {rows} + i, 1.0, 2.0, 3.0, 4, 5, 'active', 'ohm-x', DATE '2020-01-01', TRUE
FROM range(5) t(i)
"""


def generate(rows: int, work: Path) -> tuple[Path, Path]:
    import duckdb

    # Named by what generates them, so that a changed generator never reuses stale files.
    tag = hashlib.sha256((LEFT_SQL + RIGHT_SQL).encode()).hexdigest()[:8]
    left, right = work / f"left_{rows}_{tag}.parquet", work / f"right_{rows}_{tag}.parquet"
    if left.exists() and right.exists():
        return left, right
    con = duckdb.connect()
    select = LEFT_SQL.format(rows=rows)
    con.execute(f"COPY ({select}) TO '{left}' (FORMAT parquet)")
    con.execute(f"COPY ({RIGHT_SQL.format(left=select, rows=rows)}) TO '{right}' (FORMAT parquet)")
    con.close()
    return left, right


# One side each, in its own process: prints one JSON line.


def side_workbench(left: str, right: str, rows_per_pass: int) -> dict:
    import duckdb

    from workbench.jobs.compare import compare_relations

    t0, c0 = time.perf_counter(), cpu_seconds()
    con = duckdb.connect()
    result = compare_relations(
        con,
        f"read_parquet('{left}')",
        f"read_parquet('{right}')",
        KEY,
        COLUMNS,
        rows_per_pass=rows_per_pass,
    )
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "left_only": result.left_only,
        "right_only": result.right_only,
        "matched": result.matched,
        "mismatches": result.mismatches,
        "passes": result.passes,
    }


def side_datacompy(left: str, right: str) -> dict:
    import datacompy
    import polars as pl

    t0, c0 = time.perf_counter(), cpu_seconds()
    compare = datacompy.PolarsCompare(pl.read_parquet(left), pl.read_parquet(right), KEY)
    stats = {s["column"]: s["unequal_cnt"] for s in compare.column_stats}
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "left_only": len(compare.df1_unq_rows),
        "right_only": len(compare.df2_unq_rows),
        "matched": len(compare.intersect_rows),
        "mismatches": {c: stats[c] for c in COLUMNS},
        "datacompy": datacompy.__version__,
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_side(command: list[str]) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed:\n{done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternating")
    parser.add_argument("--rows-per-pass", type=int, default=None, help="compare_relations'")
    parser.add_argument("--side", choices=["workbench", "datacompy"], help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # inside a child process
        left, right = args.files
        if args.side == "workbench":
            result = side_workbench(left, right, args.rows_per_pass or _default_rows_per_pass())
        else:
            result = side_datacompy(left, right)
        print(json.dumps(result | {"peak_rss_mb": peak_rss_mb()}))
        return

    work = args.workdir.resolve() / "reconcile"
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"generating two tables of {args.rows:,} rows x {1 + len(COLUMNS)} columns ...", flush=True
    )
    left, right = generate(args.rows, work)
    me = [sys.executable, str(Path(__file__).resolve())]
    if args.rows_per_pass:
        me += ["--rows-per-pass", str(args.rows_per_pass)]
    ours_cmd = [*me, "--side", "workbench", str(left), str(right)]
    peer_cmd = [*DATACOMPY_ENV, str(Path(__file__).resolve()), "--side", "datacompy"]
    peer_cmd += [str(left), str(right)]
    run_side(peer_cmd)  # let uv resolve and cache the environment outside the timings
    runs = []
    for i in range(args.repeat):
        ours, peer = run_side(ours_cmd), run_side(peer_cmd)
        runs.append((ours, peer))
        print(
            f"  run {i + 1}: workbench {ours['seconds']:.2f} s (cpu {ours['cpu_seconds']:.2f} s) "
            f"{ours['peak_rss_mb']:,.0f} MB | datacompy {peer['seconds']:.2f} s "
            f"(cpu {peer['cpu_seconds']:.2f} s) {peer['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    report(args.rows, runs, work)


def _default_rows_per_pass() -> int:
    import inspect

    from workbench.jobs.compare import compare_relations

    return inspect.signature(compare_relations).parameters["rows_per_pass"].default


def report(rows: int, runs: list[tuple[dict, dict]], work: Path) -> None:
    ours = min((r[0] for r in runs), key=lambda r: r["seconds"])
    peer = min((r[1] for r in runs), key=lambda r: r["seconds"])
    for a, b in runs:
        found = ("left_only", "right_only", "matched", "mismatches")
        if any(a[k] != b[k] for k in found):
            sys.exit(f"the two disagree:\n workbench {a}\n datacompy {b}")
    ours_mb = min(r[0]["peak_rss_mb"] for r in runs)
    peer_mb = min(r[1]["peak_rss_mb"] for r in runs)
    speedup, memory = peer["seconds"] / ours["seconds"], ours_mb / peer_mb
    ours_cpu = min(r[0]["cpu_seconds"] for r in runs)
    peer_cpu = min(r[1]["cpu_seconds"] for r in runs)
    differing = {c: n for c, n in ours["mismatches"].items() if n}
    print(
        f"both find {ours['left_only']} rows only left, {ours['right_only']} only right, "
        f"{ours['matched']:,} matched; differing per column: {differing}"
    )
    print(
        f"workbench compare_relations {ours['seconds']:6.2f} s {ours_mb:7,.0f} MB "
        f"({ours['passes']} key ranges) | datacompy {peer.get('datacompy', '')} polars "
        f"{peer['seconds']:6.2f} s {peer_mb:7,.0f} MB"
    )
    print(
        f"workbench is {speedup:.2f}x faster (target >= 3x) and uses "
        f"{memory:.2f} of datacompy's peak memory (target <= 0.33); in CPU time "
        f"{ours_cpu:.2f} s against {peer_cpu:.2f} s ({peer_cpu / ours_cpu:.2f}x)"
    )
    results = {
        "rows": rows,
        "workbench": {
            "seconds": ours["seconds"],
            "cpu_seconds": ours_cpu,
            "peak_rss_mb": ours_mb,
            "passes": ours["passes"],
        },
        "datacompy": {"seconds": peer["seconds"], "cpu_seconds": peer_cpu, "peak_rss_mb": peer_mb},
        "speedup": speedup,
        "memory_ratio": memory,
        "mismatches": ours["mismatches"],
        "targets": {"speedup": ">= 3", "memory_ratio": "<= 0.33"},
    }
    (work / f"bench_reconcile_{rows}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
