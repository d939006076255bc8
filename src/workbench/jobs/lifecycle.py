"""Create a job, validate it against its gates, and dry-run it."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from workbench.jobs import gates as gates_mod
from workbench.jobs import job as jobs
from workbench.jobs.context import open_context
from workbench.jobs.job import Job, JobError
from workbench.mapping import workflow
from workbench.roles import require
from workbench.snapshot.store import open_snapshot
from workbench.target.environments import target_env
from workbench.workspace import Workspace


def create(
    ws: Workspace,
    snapshot: str,
    template: str,
    target: str = "sandbox",
    batch_size: int = jobs.DEFAULT_BATCH_SIZE,
) -> Job:
    actor = require(ws, "run_job", what=f"job {template} -> {target}")
    snap = open_snapshot(ws.snapshots_dir, snapshot)
    loaded = workflow.load(ws, template)
    target_env(ws, target)  # an unknown target fails now, not at commit
    if batch_size < 1:
        raise JobError(f"batch size must be at least 1, not {batch_size}")
    stamp = jobs.now()
    job = jobs.insert(
        ws,
        Job(
            id="",
            snapshot=snapshot,
            snapshot_fingerprint=snap.manifest.fingerprint,
            template_ref=loaded.ref,
            template_sha256=loaded.resolved.sha256,
            target=target,
            status="created",
            batch_size=batch_size,
            created_by=actor.user,
            created_at=stamp,
            updated_at=stamp,
            facts={"template": loaded.identity()},
        ),
    )
    jobs.audit(ws, job, "create", actor, details={"target": target, "batch_size": batch_size})
    return job


@dataclass
class Validation:
    job: Job
    fates: pl.DataFrame  # per mapping, fate and rule: source rows
    tables: pl.DataFrame  # per target table: rows that pass, rows parked
    field_checks: pl.DataFrame
    gates: list[gates_mod.GateResult]

    @property
    def passed(self) -> bool:
        return not gates_mod.failing(self.gates)


def validate(ws: Workspace, job_id: str) -> Validation:
    actor = require(ws, "run_job", what=f"validate {job_id}")
    job = jobs.get(ws, job_id)
    with open_context(ws, job) as ctx:
        p = ctx.projection
        result = Validation(
            job, p.fates(), _table_results(p), p.field_checks(), gates_mod.evaluate(p)
        )
    status = "validated" if result.passed else "gates_failed"
    if job.status in ("created", "validated", "gates_failed"):
        jobs.update(ws, job, status=status, gates=[g.to_dict() for g in result.gates])
    else:
        jobs.update(ws, job, gates=[g.to_dict() for g in result.gates])
    jobs.audit(
        ws,
        job,
        "validate",
        actor,
        outcome="ok" if result.passed else "failed",
        counts=_fate_counts(result.fates),
        details={"gates": {g.gate: round(g.ratio, 6) for g in result.gates}},
    )
    return result


def _table_results(p) -> pl.DataFrame:
    rows = []
    for cm in p.compiled.mappings:
        counts = dict(
            p.con.execute(f'SELECT _fate, count(*) FROM "{cm.target_rows}" GROUP BY 1').fetchall()
        )
        rows.append(
            {
                "target_table": cm.table.name,
                "mapping": cm.name,
                "pass": counts.get("loaded", 0),
                "fail": counts.get("parked", 0),
                "excluded": counts.get("excluded", 0),
            }
        )
    return pl.DataFrame(rows)


def _fate_counts(fates: pl.DataFrame) -> dict[str, int]:
    return {
        f: int(fates.filter(pl.col("fate") == f)["rows"].sum())
        for f in ("loaded", "excluded", "parked")
    }


@dataclass
class DryRun:
    job: Job
    tables: dict[str, int]  # target table -> rows that would load
    parked: pl.DataFrame  # mapping, source_table, rule, rows
    excluded: pl.DataFrame
    samples: dict[str, pl.DataFrame]
    accounting: pl.DataFrame
    target_conflicts: dict[str, int]  # rows whose key is already in the target


def dry_run(ws: Workspace, job_id: str, sample_rows: int = 5) -> DryRun:
    """Project the full load; read the target (never write it) to predict key conflicts."""
    from workbench.target.database import open_target

    actor = require(ws, "run_job", what=f"dry-run {job_id}")
    job = jobs.get(ws, job_id)
    with open_context(ws, job) as ctx:
        p = ctx.projection
        fates = p.fates()
        tables = p.target_counts()
        samples = {
            t: p.con.sql(
                f'SELECT * EXCLUDE (_mapping) FROM "{p.compiled.target_view(t)}" '
                f"ORDER BY _source_key LIMIT {int(sample_rows)}"
            ).pl()
            for t in tables
        }
        env = target_env(ws, job.target)
        if env.kind == "duckdb" and not env.path.exists():
            conflicts = {t: 0 for t in tables}  # no sandbox yet: nothing to collide with
        else:
            with open_target(env) as target:
                conflicts = _key_conflicts(p, target)
        result = DryRun(
            job,
            tables,
            fates.filter(pl.col("fate") == "parked"),
            fates.filter(pl.col("fate") == "excluded"),
            samples,
            p.accounting(),
            conflicts,
        )
    jobs.update(
        ws,
        job,
        dry_run={
            "tables": tables,
            "parked": _fate_counts(fates)["parked"],
            "target_conflicts": conflicts,
        },
    )
    jobs.audit(
        ws, job, "dry_run", actor, counts={"rows": sum(tables.values()), **_fate_counts(fates)}
    )
    return result


def _key_conflicts(p, target) -> dict[str, int]:
    """Rows whose primary key the target already holds (they would park at load)."""
    out = {}
    existing = target.table_counts() if target.schema_version() else {}
    for table in p.compiled.template.targets():
        if not existing.get(table):
            out[table] = 0
            continue
        pk = p.compiled.model.tables[table].primary_key
        keys = target.fetch(f'SELECT "{pk}" AS k FROM {target.q(table)}')
        p.con.register("_wb_existing_keys", keys)
        try:
            # fetchall: a result left unfinished by fetchone() makes unregister() fail.
            ((n,),) = p.con.execute(
                f'SELECT count(*) FROM "{p.compiled.target_view(table)}" '
                f'WHERE "{pk}" IN (SELECT k FROM _wb_existing_keys)'
            ).fetchall()
        finally:
            p.con.unregister("_wb_existing_keys")
        out[table] = int(n)
    return out
