"""Loading a target against its peers, on one generated 20-column observation-like table,
in the same run, into the same PostgreSQL:

(a) the workbench: `load_batch` committing the rows in batches (default 500k rows), each
    batch one transaction with its marker, into a fresh schema made from a target model:
    lineage columns, primary key, a foreign key to a pre-loaded parent table, NOT NULL,
    CHECK (the database enforces them all);
(b) raw COPY of the same 20 columns into a plain table without constraints (rendered to CSV
    by pyarrow and streamed through psycopg, as the workbench does);
(b2) for reference, the same raw COPY into a table with the workbench's DDL (constraints,
    lineage, the _job_id index): what PostgreSQL itself spends on enforcing them;
(c) pandas `to_sql` into a plain table, and (d) `to_sql(method='multi', chunksize=3000)`,
    on a subset (default 1M rows) because they are slow; ratios are per row.

    .venv/bin/python benchmarks/bench_load.py [--rows 5000000] [--batch-rows 500000]
        [--to-sql-rows 1000000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

pandas runs in a throwaway environment (`uv run --no-project --with ...`), never in the
project's. Targets: >= 10x faster than plain to_sql; within 1.5x of raw COPY.
The machine is shared and noisy: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg.copy import QueuedLibpqWriter

from workbench.target import load_model
from workbench.target.database import _csv_chunks, open_target
from workbench.target.environments import TargetEnv

HERE = Path(__file__).resolve().parent
SCHEMA = "bench_load"
DEFAULT_URL = os.environ.get(
    "WORKBENCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
UV = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
PANDAS_ENV = [
    UV, "run", "--quiet", "--no-project",
    "--with", "pandas", "--with", "sqlalchemy", "--with", "psycopg[binary]", "--with", "pyarrow",
]  # fmt: skip

MODEL = """\
model: bench
version: "1.0"
title: Load benchmark (an observation-like table and its parent)
value_sets:
  obs-category: {system: local, codes: [vital-signs, audiometry, laboratory, tb-test, imaging]}
  obs-status: {system: local, codes: [final, amended, preliminary, cancelled]}
tables:
  bench_patient:
    resource: Patient
    description: The parent table, loaded before the timing.
    primary_key: patient_id
    columns:
      patient_id: {type: varchar, required: true, description: key}
      name: {type: varchar, required: true, description: name}
  bench_observation:
    resource: Observation
    description: Twenty columns, shaped like a clinic's results.
    primary_key: observation_id
    columns:
      observation_id: {type: varchar, required: true, description: key}
      patient_id:
        {type: varchar, required: true, references: bench_patient.patient_id, description: parent}
      encounter_ref: {type: varchar, description: visit}
      category: {type: varchar, required: true, value_set: obs-category, description: kind}
      status: {type: varchar, value_set: obs-status, description: status}
      code_system: {type: varchar, description: system}
      code: {type: varchar, description: code}
      display: {type: varchar, required: true, description: name}
      local_code: {type: varchar, description: legacy code}
      effective_date: {type: date, description: date}
      issued_at: {type: timestamp, description: when}
      value_quantity: {type: double, description: value}
      value_unit: {type: varchar, description: unit}
      value_string: {type: varchar, description: text value}
      interpretation: {type: varchar, description: flag}
      performer: {type: varchar, description: who}
      reference_low: {type: double, description: low}
      reference_high: {type: double, description: high}
      abnormal: {type: boolean, description: abnormal}
      note: {type: text, description: note}
"""
PLAIN_DDL = """(
  observation_id varchar, patient_id varchar, encounter_ref varchar, category varchar,
  status varchar, code_system varchar, code varchar, display varchar, local_code varchar,
  effective_date date, issued_at timestamp, value_quantity double precision,
  value_unit varchar, value_string varchar, interpretation varchar, performer varchar,
  reference_low double precision, reference_high double precision, abnormal boolean,
  note text)"""
DISPLAYS = [
    "Body height", "Body weight", "Systolic blood pressure", "Diastolic blood pressure",
    "Heart rate", "Hearing threshold 1000 Hz left", "Hearing threshold 4000 Hz right",
    "FEV1", "FVC", "Visual acuity left", "Tuberculin skin test", "Hemoglobin", "Glucose",
    "Cholesterol", "Chest X-ray", "Respirator fit", "Lead level", "Audiogram", "BMI", "SpO2",
]  # fmt: skip
NOTES = [
    "", "normal", "repeat in 6 months", 'patient says "fine"', "follow-up, see clinic note",
    "line one\nline two", "Ümlaut café naïve", "NULL", "N/A", "a,b;c|d",
]  # fmt: skip


def generate(rows: int, patients: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    """(observations with the lineage load_batch expects, parent patients)."""
    rng = np.random.default_rng(seed)
    i = np.arange(rows, dtype=np.int64)

    def pick(items: list, p_null: float = 0.0) -> pl.Series:
        idx = rng.integers(0, len(items), rows)
        values = pl.Series(items)[idx]
        if p_null:
            values = values.set(pl.Series(rng.random(rows) < p_null), None)
        return values

    def maybe_null(values: np.ndarray, p_null: float) -> pl.Series:
        s = pl.Series(values)
        return s.set(pl.Series(rng.random(rows) < p_null), None)

    frame = pl.DataFrame({"i": i}).select(
        observation_id=pl.lit("obs-") + pl.col("i").cast(pl.String),
        patient_id=pl.lit("pat-") + (pl.col("i").hash(seed) % patients).cast(pl.String),
        encounter_ref=pl.lit("enc-") + (pl.col("i") // 4).cast(pl.String),
        _source_key=pl.col("i").cast(pl.String),
    )
    issued = np.datetime64("2005-01-01T00:00:00", "us") + rng.integers(
        0, 20 * 365 * 86_400_000_000, rows
    ).astype("timedelta64[us]")
    low = np.round(rng.random(rows) * 50, 2)
    frame = frame.with_columns(
        category=pick(["vital-signs", "audiometry", "laboratory", "tb-test", "imaging"]),
        status=pick(["final", "amended", "preliminary", "cancelled"], 0.05),
        code_system=pick(["http://loinc.org"], 0.1),
        code=pl.Series(rng.integers(1000, 99999, rows)).cast(pl.String)
        + "-"
        + pl.Series(rng.integers(0, 10, rows)).cast(pl.String),
        display=pick(DISPLAYS),
        local_code=pl.lit("L") + pl.Series(rng.integers(0, 5000, rows)).cast(pl.String),
        effective_date=pl.Series(issued.astype("datetime64[D]")).cast(pl.Date),
        issued_at=pl.Series(issued),
        value_quantity=maybe_null(np.round(rng.normal(100, 30, rows), 3), 0.1),
        value_unit=pick(["cm", "kg", "mmHg", "/min", "dB", "L", "g/dL", "mg/dL", "%"], 0.1),
        value_string=pick(["positive", "negative", "see report", ""], 0.8),
        interpretation=pick(["N", "H", "L", "A"], 0.3),
        performer=pl.lit("DR") + pl.Series(rng.integers(0, 300, rows)).cast(pl.String),
        reference_low=maybe_null(low, 0.2),
        reference_high=maybe_null(low + 40, 0.2),
        abnormal=pl.Series(rng.random(rows) < 0.1),
        note=pick(NOTES, 0.3),
        _mapping=pl.lit("bench"),
        _source_table=pl.lit("obs"),
        _variant=pl.lit(None, pl.String),
    )
    columns = [c for c in frame.columns if not c.startswith("_")]
    frame = frame.select([*columns, "_mapping", "_source_table", "_source_key", "_variant"])
    parents = pl.DataFrame({"i": np.arange(patients)}).select(
        patient_id=pl.lit("pat-") + pl.col("i").cast(pl.String),
        name=pl.lit("Patient ") + pl.col("i").cast(pl.String),
        _mapping=pl.lit("bench_patient"),
        _source_table=pl.lit("people"),
        _source_key=pl.col("i").cast(pl.String),
        _variant=pl.lit(None, pl.String),
    )
    return _plain(frame.to_arrow()), _plain(parents.to_arrow())


def _plain(table: pa.Table) -> pa.Table:
    """Plain Arrow strings (polars hands out views), so no timed path pays a conversion."""
    fields = [
        pa.field(f.name, pa.string())
        if pa.types.is_string_view(f.type) or pa.types.is_large_string(f.type)
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def conninfo(url: str) -> str:
    from sqlalchemy import make_url

    u = make_url(url)
    return f"host={u.host} port={u.port or 5432} dbname={u.database} user={u.username}"


def workbench_load(env: TargetEnv, model, table: pa.Table, batch_rows: int) -> tuple[float, int]:
    obs = model.table("bench_observation")
    with open_target(env, model) as db:
        t0 = time.perf_counter()
        loaded = 0
        for b, start in enumerate(range(0, table.num_rows, batch_rows), start=1):
            result = db.load_batch("BENCH", b, obs, table.slice(start, batch_rows))
            assert result.parked.num_rows == 0, result.parked.slice(0, 5).to_pylist()
            loaded += result.loaded
        seconds = time.perf_counter() - t0
        counted = db.fetch("SELECT count(*) AS n FROM bench_observation")["n"][0].as_py()
    assert loaded == counted == table.num_rows, (loaded, counted)
    return seconds, counted


def raw_copy(con: psycopg.Connection, name: str, table: pa.Table) -> tuple[float, int]:
    """COPY the 20 columns into ``name``: pyarrow CSV chunks streamed through psycopg."""
    names = ", ".join(table.column_names)
    t0 = time.perf_counter()
    with (
        con.transaction(),
        con.cursor() as cur,
        cur.copy(
            f"COPY {SCHEMA}.{name} ({names}) FROM STDIN (FORMAT csv)",
            writer=QueuedLibpqWriter(cur),
        ) as copy,
    ):
        for chunk in _csv_chunks(table):
            copy.write(chunk)
    seconds = time.perf_counter() - t0
    (n,) = con.execute(f"SELECT count(*) FROM {SCHEMA}.{name}").fetchone()
    assert n == table.num_rows, (n, table.num_rows)
    return seconds, n


def to_sql(con, url: str, parquet: Path, name: str, multi: bool) -> tuple[float, int]:
    method = "method='multi', chunksize=3000" if multi else "method=None"
    code = (
        "import json, time, pandas as pd, sqlalchemy as sa\n"
        f"df = pd.read_parquet({str(parquet)!r})\n"
        f"engine = sa.create_engine({url!r})\n"
        "t0 = time.perf_counter()\n"
        f"df.to_sql({name!r}, engine, schema={SCHEMA!r}, if_exists='append', index=False, "
        f"{method})\n"
        "print(json.dumps({'seconds': time.perf_counter() - t0, 'rows': len(df)}))\n"
    )
    done = subprocess.run([*PANDAS_ENV, "python", "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"to_sql failed: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (n,) = con.execute(f"SELECT count(*) FROM {SCHEMA}.{name}").fetchone()
    assert n == result["rows"], (n, result)
    return float(result["seconds"]), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--batch-rows", type=int, default=500_000)
    parser.add_argument("--to-sql-rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--no-peers", action="store_true", help="skip pandas to_sql")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schema")
    parser.add_argument("--workdir", type=Path, default=HERE / "out" / "load")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)

    if not args.no_peers:  # warm the throwaway environment, so installing is not timed
        subprocess.run([*PANDAS_ENV, "python", "-c", "import pandas, sqlalchemy"], check=True)

    patients = max(1_000, args.rows // 20)
    print(f"generating {args.rows:,} observations of {patients:,} patients ...", flush=True)
    t0 = time.perf_counter()
    table, parents = generate(args.rows, patients)
    print(f"  {time.perf_counter() - t0:.1f} s, {table.nbytes / 1e6:,.0f} MB in Arrow")
    model_path = work / "bench.yaml"
    model_path.write_text(MODEL)
    model = load_model(model_path)
    plain = table.select([c for c in table.column_names if not c.startswith("_")])
    subset = min(args.rows, args.to_sql_rows)

    con = psycopg.connect(conninfo(args.url), autocommit=True)
    con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    env = TargetEnv("bench", "postgresql", url=args.url, schema=SCHEMA)
    with open_target(env, model) as db:
        db.ensure_schema(model)
        db.load_batch("BENCH-PARENT", 1, model.table("bench_patient"), parents)
    for name in ("raw_copy", "to_sql_plain", "to_sql_multi"):
        con.execute(f"CREATE TABLE {SCHEMA}.{name} {PLAIN_DDL}")
    # (b2): the workbench's own DDL for the observation table, without the workbench.
    con.execute(
        f"CREATE TABLE {SCHEMA}.constrained (LIKE {SCHEMA}.bench_observation INCLUDING ALL)"
    )
    con.execute(
        f"ALTER TABLE {SCHEMA}.constrained ADD FOREIGN KEY (patient_id) "
        f"REFERENCES {SCHEMA}.bench_patient (patient_id)"
    )
    con.execute("CHECKPOINT")

    results: dict[str, dict] = {}

    def record(key: str, label: str, seconds: float, rows: int) -> None:
        results[key] = {
            "label": label,
            "rows": rows,
            "seconds": seconds,
            "rows_per_s": rows / seconds,
        }
        print(f"  {label:<44} {rows:>11,} rows {seconds:8.1f} s {rows / seconds:>11,.0f} rows/s",
              flush=True)  # fmt: skip

    print("timing ...", flush=True)
    record("workbench", f"(a) workbench load_batch ({args.batch_rows:,}/batch)",
           *workbench_load(env, model, table, args.batch_rows))  # fmt: skip
    con.execute("CHECKPOINT")
    record("raw_copy", "(b) raw COPY, plain table", *raw_copy(con, "raw_copy", plain))
    con.execute("CHECKPOINT")
    n = table.num_rows
    lineage = table.select([*plain.column_names, "_source_table", "_source_key"])
    lineage = lineage.append_column("_job_id", pa.repeat(pa.scalar("BENCH"), n))
    lineage = lineage.append_column("_batch", pa.repeat(pa.scalar(1, pa.int32()), n))
    record("copy_constrained", "(b2) raw COPY, the workbench's DDL",
           *raw_copy(con, "constrained", lineage))  # fmt: skip
    if not args.no_peers:
        parquet = work / f"subset_{subset}.parquet"
        pq.write_table(plain.slice(0, subset), parquet)
        con.execute("CHECKPOINT")
        record("to_sql_plain", "(c) pandas to_sql", *to_sql(con, args.url, parquet,
               "to_sql_plain", multi=False))  # fmt: skip
        con.execute("CHECKPOINT")
        record("to_sql_multi", "(d) pandas to_sql multi, chunksize=3000",
               *to_sql(con, args.url, parquet, "to_sql_multi", multi=True))  # fmt: skip
    if not args.keep:
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    con.close()
    report(results, args.rows)
    (work / "bench_load.json").write_text(json.dumps(results, indent=2) + "\n")


def report(results: dict[str, dict], rows: int) -> None:
    wb = results["workbench"]["rows_per_s"]
    print()
    print(f"{'method':<46} {'rows':>11} {'seconds':>9} {'rows/s':>11} {'workbench is':>14}")
    for r in results.values():
        speedup = wb / r["rows_per_s"]
        print(
            f"{r['label']:<46} {r['rows']:>11,} {r['seconds']:>9.1f} {r['rows_per_s']:>11,.0f} "
            f"{speedup:>13.2f}x"
        )
    print()
    for key, target in (("to_sql_plain", ">= 10x"), ("to_sql_multi", None)):
        if key in results:
            ratio = wb / results[key]["rows_per_s"]
            note = f" (target {target})" if target else ""
            print(f"workbench vs {results[key]['label'][4:]}: {ratio:.1f}x faster per row{note}")
    raw = results["raw_copy"]["rows_per_s"]
    print(f"workbench vs raw COPY: {raw / wb:.2f}x the time per row (target <= 1.5x)")
    same = results["copy_constrained"]["rows_per_s"]
    print(f"workbench vs raw COPY into the same DDL: {same / wb:.2f}x the time per row")


if __name__ == "__main__":
    main()
