"""Resolve parked records after a template fix: switch the job to the new published version
and load only the rows that were parked and now load. Rows that still fail stay parked
with their new reason."""

from __future__ import annotations

from dataclasses import dataclass

from workbench import state
from workbench.jobs import batches as batching
from workbench.jobs import job as jobs
from workbench.jobs import parking
from workbench.jobs.commit import exclusive
from workbench.jobs.context import open_context
from workbench.jobs.job import Job, JobError
from workbench.mapping import workflow
from workbench.progress import SILENT, Progress
from workbench.roles import require
from workbench.snapshot.staging import quote_ident as q
from workbench.target.database import open_target
from workbench.target.environments import target_env
from workbench.workspace import Workspace


@dataclass
class Resolution:
    job: Job
    template_ref: str
    reloaded: int
    still_parked: int
    excluded_now: int


def resolve(
    ws: Workspace, job_id: str, template_ref: str, progress: Progress = SILENT
) -> Resolution:
    actor = require(ws, "run_job", what=f"resolve parked rows of {job_id}")
    job = jobs.get(ws, job_id)
    if job.status not in ("committed", "reconciled", "unbalanced"):
        raise JobError(f"job {job.id} is {job.status}; resolve parked rows after a commit")
    new = workflow.load(ws, template_ref)
    if new.resolved.version is None:
        raise JobError(f"resolve with a published version ({template_ref}@vN), not a draft")
    previous = job.template_ref
    job.template_ref, job.template_sha256 = new.ref, new.resolved.sha256
    with exclusive(ws, job), open_context(ws, job) as ctx:
        p = ctx.projection
        plan = batching.plan(p, job.batch_size)
        keys = parking.parked(ws, job.id, status="parked")
        p.con.register(
            "_wb_parked", keys.select("mapping", "source_table", "source_key").to_arrow()
        )
        states = _new_states(p)
        with open_target(target_env(ws, job.target)) as target:
            start = max([*target.committed_batches(job.id), 0]) + 1
            reloaded = _reload(ws, job, p, plan, target, start, progress)
            present = reloaded_keys(target, job.id, start)
        p.con.unregister("_wb_parked")
    still = _update_states(ws, job, states, present, new.ref, actor.user)
    jobs.update(ws, job, template={**new.identity(), "previous": previous})
    jobs.audit(
        ws,
        job,
        "resolve",
        actor,
        counts={"reloaded": reloaded, "still_parked": still},
        details={"from": previous, "to": new.ref},
    )
    excluded = sum(1 for fate, _ in states.values() if fate == "excluded")
    return Resolution(job, new.ref, reloaded, still, excluded)


def _reload(ws, job, p, plan, target, start, progress) -> int:
    loaded = 0
    number = start
    with progress.task(f"resolve {job.id}") as task:
        for batch in plan:
            rows = p.con.execute(
                f"SELECT b.* EXCLUDE (_batch) FROM {q(batch.relation)} b JOIN _wb_parked k "
                "ON k.mapping = b._mapping AND k.source_table = b._source_table "
                "AND k.source_key = b._source_key WHERE b._batch = ?",
                [batch.number],
            ).to_arrow_table()
            if rows.num_rows == 0:
                continue
            result = target.load_batch(job.id, number, batch.table, rows)
            parking.record_load(
                ws, job, batching.Batch(number, batch.table, rows.num_rows), result.parked
            )
            loaded += result.loaded
            number += 1
            task.advance(rows.num_rows)
    return loaded


def _new_states(p) -> dict[tuple[str, str, str], tuple[str, str | None]]:
    """Each parked source row's fate and rule under the new template."""
    out = {}
    for cm in p.compiled.mappings:
        for m, t, k, fate, rule in p.con.execute(
            f"SELECT DISTINCT r._mapping, r._source_table, r._source_key, r._fate, r._rule "
            f"FROM {q(cm.rows_table)} r JOIN _wb_parked k ON k.mapping = r._mapping "
            "AND k.source_table = r._source_table AND k.source_key = r._source_key"
        ).fetchall():
            out[(m, t, k)] = (fate, rule)
    return out


def _update_states(ws, job, states, target_keys, ref, user) -> int:
    """Rows now in the target are resolved, rows the new template excludes are resolved as
    excluded, the rest stay parked with the new template's rule."""
    still = 0
    now = jobs.now()
    with state.connection(ws) as con:
        con.execute("BEGIN IMMEDIATE")
        for (mapping, table, key), (fate, rule) in states.items():
            where = (job.id, mapping, table, key)
            if (table, key) in target_keys:
                note = f"loaded with {ref}"
            elif fate == "excluded":
                note = f"excluded by {rule} in {ref}"
            else:
                still += 1
                con.execute(
                    "UPDATE parked SET rule = coalesce(?, rule) WHERE job_id = ? AND mapping = ? "
                    "AND source_table = ? AND source_key = ? AND stage = 'projection'",
                    (rule, *where),
                )
                continue
            con.execute(
                "UPDATE parked SET status = 'resolved', note = ?, decided_by = ?, decided_at = ? "
                "WHERE job_id = ? AND mapping = ? AND source_table = ? AND source_key = ?",
                (note, user, now, *where),
            )
        con.execute("COMMIT")
    return still


def reloaded_keys(target, job_id: str, first_batch: int) -> set[tuple[str, str]]:
    """(source table, source key) of the rows this resolution loaded: parked rows were never
    in the target, so they are exactly the job's rows in batches from ``first_batch`` on."""
    keys: set[tuple[str, str]] = set()
    for table, n in target.job_counts(job_id).items():
        if n:
            got = target.fetch(
                f"SELECT DISTINCT _source_table, _source_key FROM {target.q(table)} "
                f"WHERE _job_id = ? AND _batch >= ?",
                [job_id, first_batch],
            )
            keys |= set(zip(got.column(0).to_pylist(), got.column(1).to_pylist(), strict=True))
    return keys
