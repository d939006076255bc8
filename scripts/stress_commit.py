"""Stress the commit: N trials (default 20) of SIGKILL during ``workbench job commit``, then
resume and reconcile, each compared with an uninterrupted commit of the same snapshot and
template. The same trial code as tests/test_commit_kill.py (tests/commit_trials.py).

    .venv/bin/python scripts/stress_commit.py                      # 20 trials on DuckDB
    .venv/bin/python scripts/stress_commit.py -n 50 --target both  # and on PostgreSQL
    .venv/bin/python scripts/stress_commit.py --seed 7             # re-run one failing trial

A trial's seed decides its kill point; a failing trial is re-run with ``--seed SEED -n 1``
(and the same --people/--clinic-seed/--batch-size). Exit status 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from commit_trials import (
    TrialError,
    drop_schemas,
    duckdb_target,
    make_clinic,
    pg_target,
    run_trial,
    uninterrupted,
)

POSTGRES_URL = os.environ.get(
    "WORKBENCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--trials", type=int, default=20, help="trials per target kind")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first trial")
    parser.add_argument("--target", choices=["duckdb", "postgresql", "both"], default="duckdb")
    parser.add_argument("--people", type=int, default=100, help="size of the synthetic clinic")
    parser.add_argument("--clinic-seed", type=int, default=5, help="the generator's seed")
    parser.add_argument("--batch-size", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()

    os.environ.pop("WORKBENCH_USER", None)  # the workspace's default_user is the engineer
    kinds = ["duckdb", "postgresql"] if args.target == "both" else [args.target]
    root = Path(tempfile.mkdtemp(prefix="wb-stress-"))
    print(f"workspace {root / 'ws'}: {args.people} people, seed {args.clinic_seed}")
    clinic = make_clinic(root, people=args.people, seed=args.clinic_seed)
    failed: list[str] = []
    passed = 0
    started = time.monotonic()
    try:
        for kind in kinds:

            def fresh(name: str, kind: str = kind):
                if kind == "duckdb":
                    return duckdb_target(root / "targets" / f"{name}.duckdb")
                return clinic.add_target(pg_target(name, POSTGRES_URL))

            reference = uninterrupted(clinic, fresh("reference"), args.batch_size)
            print(
                f"{kind}: reference commit {reference.job_id}, {reference.batches} batches "
                f"in {reference.load_seconds:.2f}s"
            )
            for seed in range(args.seed, args.seed + args.trials):
                try:
                    trial = run_trial(
                        clinic, fresh(f"trial_{seed}"), reference, seed=seed,
                        batch_size=args.batch_size,
                    )  # fmt: skip
                except TrialError as e:
                    failed.append(f"{kind} seed {seed}: could not run: {e}")
                    print(failed[-1])
                    continue
                if trial.passed:
                    passed += 1
                else:
                    failed.append(trial.summary())
    finally:
        if clinic.schemas:
            drop_schemas(POSTGRES_URL, clinic.schemas)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    total = passed + len(failed)
    print(f"\n{passed} of {total} trials passed in {time.monotonic() - started:.0f}s")
    for line in failed:
        print(f"  {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
