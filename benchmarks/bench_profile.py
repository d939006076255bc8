"""Profiling against its peers, on one generated 20-column table, in the same run.

For each size (default 1M, 5M, 20M rows) it times, with peak memory (RSS):
- the workbench: `workbench profile` of a snapshot of the CSV (exact statistics, xlsx, html, json);
- DuckDB `SUMMARIZE` over the same CSV;
- ydata-profiling with `minimal=True` (pandas read_csv + report), with a time limit;
- csvkit's `csvstat`, at 100k rows (it does not finish 1M rows in 9 minutes here), with a limit.
Peers run in throwaway environments (`uv run --no-project --with ...`), never in the project's.

    .venv/bin/python benchmarks/bench_profile.py [--sizes 1000000,5000000,20000000]

Targets: >= 25x faster than ydata-profiling minimal at 1M; >= 100x faster than csvstat;
within 3x of SUMMARIZE at every size; peak RSS <= 2 GB, roughly flat from 5M to 20M.
The machine is shared and noisy: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
# pick(i, k, n): a deterministic pseudo-random list index in 1..n for row i, draw k.
PICK_MACRO = "CREATE MACRO pick(i, k, n) AS 1 + CAST(hash(i, k) % n AS BIGINT)"
TABLE_SQL = """
SELECT
    i AS patient_id,
    'MRN' || lpad(CAST((i * 7919) % 100000000 AS VARCHAR), 8, '0') AS mrn,
    (['Smith','Jones','Garcia','Nguyen','Müller','Brown','Lee','Wilson','Taylor','Martin'])
        [pick(i, 1, 10)] AS last_name,
    (['Ann','Bo','Carla','Dev','Eli','Fay','Gus','Hana','Ivan','José'])[pick(i, 2, 10)]
        AS first_name,
    (['F','M','U'])[pick(i, 3, 3)] AS sex,
    CASE WHEN hash(i, 4) % 10 = 0
         THEN strftime(DATE '1940-01-01' + CAST(hash(i, 5) % 25000 AS INTEGER), '%m/%d/%Y')
         ELSE CAST(DATE '1940-01-01' + CAST(hash(i, 5) % 25000 AS INTEGER) AS VARCHAR)
    END AS birth_date,
    CAST(DATE '2005-01-01' + CAST(hash(i, 6) % 5000 AS INTEGER) AS VARCHAR) AS visit_date,
    (['OCC','PRE','RTW','DOT','AUD','IMM','TB','FIT'])[pick(i, 7, 8)] AS visit_type,
    'DR' || CAST(hash(i, 8) % 300 AS VARCHAR) AS provider,
    (['J45.909','I10','E11.9','M54.5','S93.401A','Z00.00','H91.90','N/A'])
        [pick(i, 9, 8)] AS dx_code,
    90 + CAST(hash(i, 10) % 90 AS INTEGER) AS systolic,
    55 + CAST(hash(i, 11) % 45 AS INTEGER) AS diastolic,
    50 + CAST(hash(i, 12) % 60 AS INTEGER) AS pulse,
    round(45 + (hash(i, 13) % 9000) / 100.0, 1) AS weight_kg,
    145 + CAST(hash(i, 14) % 55 AS INTEGER) AS height_cm,
    round(18 + (hash(i, 15) % 2200) / 100.0, 2) AS bmi,
    CASE WHEN hash(i, 16) % 7 = 0 THEN NULL ELSE round((hash(i, 17) % 4000) / 10.0, 1) END
        AS lab_value,
    (['active','inactive','N/A','NULL','terminated'])[pick(i, 18, 5)]
        AS status,
    lpad(CAST(hash(i, 19) % 99999 AS VARCHAR), 5, '0') AS zip,
    'Seen for ' || (['hearing test','annual exam','injury follow-up','respirator fit',
        'vaccination'])[pick(i, 20, 5)] || ', '
        || CAST(hash(i, 21) % 1000 AS VARCHAR) || ' units noted' AS note
FROM range(?) t(i)
"""


@dataclass
class Timing:
    tool: str
    rows: int
    seconds: float | None
    peak_rss_mb: float | None
    status: str  # ok | timeout | failed


def generate_csv(rows: int, folder: Path) -> Path:
    path = folder / f"visits_{rows}.csv"
    if not path.exists():
        with duckdb.connect() as con:
            con.execute(PICK_MACRO)
            con.execute(f"COPY ({TABLE_SQL.replace('?', str(rows))}) TO '{path}' (HEADER)")
    return path


def measure(tool: str, rows: int, argv: list[str], timeout: float, cwd: Path) -> Timing:
    """Run ``argv`` under GNU time for wall seconds and peak RSS of the whole process tree."""
    cmd = ["/usr/bin/time", "-f", "__TIME__ %e %M", *argv]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return Timing(tool, rows, None, None, f"timeout after {timeout:.0f} s")
    line = next((x for x in done.stderr.splitlines() if x.startswith("__TIME__")), None)
    if done.returncode != 0 or line is None:
        tail = done.stderr.strip().splitlines()[-1:] or ["?"]
        return Timing(tool, rows, None, None, f"failed: {tail[0][:120]}")
    _, seconds, kb = line.split()
    return Timing(tool, rows, float(seconds), int(kb) / 1024, "ok")


def workbench_argv(csv: Path, work: Path) -> list[str]:
    """Acquire outside the timing, so the timed step is the profile itself."""
    ws = work / f"ws_{csv.stem}"
    if not (ws / "workbench.toml").exists():
        subprocess.run([VENV_BIN / "workbench", "init", str(ws)], check=True, capture_output=True)
        with (ws / "workbench.toml").open("a") as f:
            f.write(f'\n[sources.visits]\nkind = "csv"\npath = "{csv}"\n')
        subprocess.run(
            [VENV_BIN / "workbench", "acquire", "visits", "--snapshot", "s", "-w", str(ws)],
            check=True,
            capture_output=True,
        )
    return [str(VENV_BIN / "workbench"), "profile", "s", "-w", str(ws)]


def engine_argv(csv: Path, work: Path) -> list[str]:
    """The profile computation alone, without the xlsx and html renderings."""
    workbench_argv(csv, work)  # makes sure the snapshot exists
    ws = work / f"ws_{csv.stem}"
    code = (
        "from pathlib import Path; from workbench import workspace; "
        "from workbench.snapshot import open_snapshot; "
        "from workbench.profile.engine import profile_snapshot; "
        f"w = workspace.load(Path('{ws}')); profile_snapshot(open_snapshot(w.snapshots_dir, 's'))"
    )
    return [sys.executable, "-c", code]


def summarize_argv(csv: Path) -> list[str]:
    code = f"import duckdb; duckdb.sql(\"SUMMARIZE SELECT * FROM read_csv('{csv}')\").fetchall()"
    return [sys.executable, "-c", code]


# ydata-profiling still imports pkg_resources, which newer setuptools no longer ships.
YDATA_ENV = [
    "uv",
    "run",
    "--quiet",
    "--no-project",
    "--with",
    "ydata-profiling",
    "--with",
    "setuptools<81",
]


def ydata_argv(csv: Path, work: Path) -> list[str]:
    code = (
        "import pandas as pd, ydata_profiling as yp; "
        f"df = pd.read_csv('{csv}'); "
        f"yp.ProfileReport(df, minimal=True, progress_bar=False).to_file('{work}/ydata.html')"
    )
    return [*YDATA_ENV, "python", "-c", code]


def csvstat_argv(csv: Path) -> list[str]:
    return ["uvx", "--quiet", "--from", "csvkit", "csvstat", str(csv)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--csvstat-rows", type=int, default=100_000)
    parser.add_argument("--peer-timeout", type=float, default=900)
    parser.add_argument("--no-peers", action="store_true", help="time only the workbench")
    parser.add_argument(
        "--ydata-max-rows",
        type=int,
        default=5_000_000,
        help="skip ydata-profiling above this size (recorded as not run)",
    )
    parser.add_argument("--workdir", type=Path, default=HERE / "out" / "profile")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: list[Timing] = []
    if not args.no_peers:
        # Warm the peers' throwaway environments so installing them is not timed.
        subprocess.run([*YDATA_ENV, "python", "-c", "import ydata_profiling"], check=True)
        subprocess.run(csvstat_argv(Path("--version")), check=True, capture_output=True)
        small = generate_csv(args.csvstat_rows, work)
        results.append(
            measure("workbench", args.csvstat_rows, workbench_argv(small, work), 3600, work)
        )
        results.append(
            measure(
                "workbench engine only", args.csvstat_rows, engine_argv(small, work), 3600, work
            )
        )
        results.append(
            measure("csvstat", args.csvstat_rows, csvstat_argv(small), args.peer_timeout, work)
        )
    for rows in [int(s) for s in args.sizes.split(",")]:
        results += measure_size(rows, args, work)
    report(results)
    (work / "bench_profile.json").write_text(json.dumps([asdict(r) for r in results], indent=2))


def measure_size(rows: int, args: argparse.Namespace, work: Path) -> list[Timing]:
    csv = generate_csv(rows, work)
    timings = [
        measure("workbench", rows, workbench_argv(csv, work), 3600, work),
        measure("workbench engine only", rows, engine_argv(csv, work), 3600, work),
    ]
    if args.no_peers:
        return timings
    timings.append(measure("duckdb SUMMARIZE", rows, summarize_argv(csv), 3600, work))
    if rows > args.ydata_max_rows:
        timings.append(Timing("ydata-profiling minimal", rows, None, None, "not run (size cap)"))
    else:
        argv = ydata_argv(csv, work)
        timings.append(measure("ydata-profiling minimal", rows, argv, args.peer_timeout, work))
    return timings


def report(results: list[Timing]) -> None:
    print(f"\n{'rows':>11} {'tool':<24} {'seconds':>9} {'peak MB':>9}  workbench is ...")
    by = {(r.tool, r.rows): r for r in results}
    for r in results:
        wb = by.get(("workbench", r.rows))
        ratio = ""
        if r.tool != "workbench" and wb and wb.seconds and r.seconds:
            ratio = (
                f"{r.seconds / wb.seconds:8.1f}x faster"
                if r.seconds >= wb.seconds
                else f"{wb.seconds / r.seconds:8.2f}x slower"
            )
        secs = f"{r.seconds:9.1f}" if r.seconds is not None else f"{'-':>9}"
        mem = f"{r.peak_rss_mb:9.0f}" if r.peak_rss_mb is not None else f"{'-':>9}"
        print(f"{r.rows:>11,} {r.tool:<24} {secs} {mem}  {ratio or r.status}")


if __name__ == "__main__":
    main()
