"""SIGKILL a committing ``workbench job commit`` at a random moment, resume, and prove the
target is exactly what an uninterrupted commit leaves: balanced, no duplicate keys, equal
content checksums (independent SQL, without the ``_job_id``/``_batch`` lineage).

Each trial is seeded (``random.Random(seed)`` picks the batch marker to wait for, then a
fraction of a batch's time) and prints its kill point; ``scripts/stress_commit.py`` runs
many more trials with the same code (tests/commit_trials.py)."""

from __future__ import annotations

import pytest

from commit_trials import (
    Clinic,
    Reference,
    drop_schemas,
    duckdb_target,
    make_clinic,
    pg_target,
    run_trial,
    uninterrupted,
)
from conftest import POSTGRES_URL

PEOPLE, SEED = 100, 5  # about 20,000 target rows
BATCH_SIZE = 300  # about 65 batches: many places to be killed in
TRIALS = [
    *(pytest.param("duckdb", seed, id=f"duckdb-seed{seed}") for seed in (1, 2, 3, 4, 5)),
    *(
        pytest.param("postgresql", seed, id=f"postgresql-seed{seed}", marks=pytest.mark.services)
        for seed in (101, 102)
    ),
]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("WORKBENCH_USER", raising=False)  # default_user = analyst
        clinic = make_clinic(root, people=PEOPLE, seed=SEED)
        try:
            yield clinic
        finally:
            if clinic.schemas:
                drop_schemas(POSTGRES_URL, clinic.schemas)


@pytest.fixture(scope="module")
def references() -> dict[str, Reference]:
    return {}  # per target kind, made by the first trial on it


def fresh_target(clinic: Clinic, kind: str, name: str, tmp_path):
    if kind == "duckdb":
        return duckdb_target(tmp_path / f"{name}.duckdb")
    return clinic.add_target(pg_target(name.replace("-", "_"), POSTGRES_URL))


@pytest.mark.parametrize(("kind", "seed"), TRIALS)
def test_sigkill_then_resume_equals_an_uninterrupted_commit(
    kind: str, seed: int, clinic: Clinic, references, tmp_path_factory, request
):
    if kind == "postgresql":
        request.getfixturevalue("postgres_url")
    if kind not in references:
        where = fresh_target(clinic, kind, f"reference-{kind}", tmp_path_factory.mktemp("ref"))
        references[kind] = uninterrupted(clinic, where, BATCH_SIZE)
    reference = references[kind]
    assert reference.batches > 40, reference.batches

    target = fresh_target(clinic, kind, f"trial-{seed}", tmp_path_factory.mktemp("trial"))
    trial = run_trial(clinic, target, reference, seed=seed, batch_size=BATCH_SIZE)
    assert trial.batches == reference.batches
    assert trial.passed, trial.summary()
