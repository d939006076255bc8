"""Parked records: source rows a job could not load, kept with their reason until they are
resolved (reloaded after a template fix) or waived (accepted as not migrated)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from workbench import state
from workbench.jobs import job as jobs
from workbench.jobs.job import Job
from workbench.workspace import Workspace

INSERT = (
    "INSERT OR IGNORE INTO parked(job_id, mapping, source_table, source_key, target_table, "
    "stage, rule, reason, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def record_projection(ws: Workspace, job: Job, projection) -> int:
    """The rows the template itself parks (a failed rule), once per source row."""
    rows = []
    for cm in projection.compiled.mappings:
        found = projection.con.execute(
            f'SELECT DISTINCT _mapping, _source_table, _source_key, _rule FROM "{cm.rows_table}" '
            "WHERE _fate = 'parked'"
        ).fetchall()
        reason = "the template's rule failed on this row"
        rows += [
            (job.id, m, t, k, cm.table.name, "projection", r, reason, None) for m, t, k, r in found
        ]
    return _insert(ws, rows)


def record_load(ws: Workspace, job: Job, batch, parked: pa.Table) -> int:
    """Rows the target refused in one batch, with the constraint as their reason."""
    if parked.num_rows == 0:
        return 0
    frame = pl.from_arrow(parked)
    rows = [
        (
            job.id,
            r["_mapping"],
            r["_source_table"],
            r["_source_key"],
            batch.table.name,
            "load",
            r["rule"],
            r["reason"],
            batch.number,
        )
        for r in frame.unique(["_mapping", "_source_table", "_source_key"]).iter_rows(named=True)
    ]
    return _insert(ws, rows)


def _insert(ws: Workspace, rows: list[tuple]) -> int:
    with state.connection(ws) as con:
        con.execute("BEGIN IMMEDIATE")
        con.executemany(INSERT, rows)
        con.execute("COMMIT")
    return len(rows)


def recover_interrupted(ws, job, projection, target, plan, done) -> int:
    """A process killed between a batch's commit and recording its parked rows leaves the
    target ahead of the state database: re-derive those rows (the batch's source rows that
    the target does not hold) so none is lost."""
    recorded = _parked_per_batch(ws, job.id)
    recovered = 0
    for batch in plan:
        if batch.number not in done:
            continue
        _, parked_count = done[batch.number]
        if parked_count and recorded.get(batch.number, 0) < parked_count:
            recovered += _rederive(ws, job, projection, target, batch)
    return recovered


def _parked_per_batch(ws: Workspace, job_id: str) -> dict[int, int]:
    with state.connection(ws) as con:
        return dict(
            con.execute(
                "SELECT batch, count(*) FROM parked WHERE job_id = ? AND stage = 'load' "
                "GROUP BY batch",
                (job_id,),
            ).fetchall()
        )


def _rederive(ws, job, projection, target, batch) -> int:
    loaded = target.fetch(
        f"SELECT DISTINCT _source_table, _source_key FROM {target.q(batch.table.name)} "
        f"WHERE _job_id = '{job.id}' AND _batch = {int(batch.number)}"
    )
    projection.con.register("_wb_loaded_keys", loaded)
    try:
        missing = projection.con.execute(
            f'SELECT DISTINCT _mapping, _source_table, _source_key FROM "{batch.relation}" b '
            "WHERE _batch = ? AND NOT EXISTS (SELECT 1 FROM _wb_loaded_keys k WHERE "
            "k._source_table = b._source_table AND k._source_key = b._source_key)",
            [batch.number],
        ).fetchall()
    finally:
        projection.con.unregister("_wb_loaded_keys")
    reason = "refused by the target in a commit that was interrupted before its reason was kept"
    return _insert(
        ws,
        [
            (job.id, m, t, k, batch.table.name, "load", "target:unknown", reason, batch.number)
            for m, t, k in missing
        ],
    )


def parked(ws: Workspace, job_id: str, status: str | None = None) -> pl.DataFrame:
    query = "SELECT * FROM parked WHERE job_id = ?"
    params: list = [job_id]
    if status:
        query += " AND status = ?"
        params.append(status)
    with state.connection(ws) as con:
        cur = con.execute(query + " ORDER BY mapping, source_table, source_key", params)
        names = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)


def summary(ws: Workspace, job_id: str) -> pl.DataFrame:
    with state.connection(ws) as con:
        cur = con.execute(
            "SELECT mapping, source_table, stage, rule, status, count(*) AS rows FROM parked "
            "WHERE job_id = ? GROUP BY mapping, source_table, stage, rule, status "
            "ORDER BY mapping, rule",
            (job_id,),
        )
        names = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=names, orient="row")


def counts_by_source(ws: Workspace, job_id: str) -> dict[tuple[str, str], int]:
    """Parked or waived source rows per (mapping, source table); resolved rows loaded."""
    with state.connection(ws) as con:
        rows = con.execute(
            "SELECT mapping, source_table, count(*) FROM parked WHERE job_id = ? "
            "AND status IN ('parked', 'waived') GROUP BY 1, 2",
            (job_id,),
        ).fetchall()
    return {(m, t): n for m, t, n in rows}


def load_parked_keys(ws: Workspace, job_id: str) -> set[tuple[str, str]]:
    with state.connection(ws) as con:
        rows = con.execute(
            "SELECT mapping, source_key FROM parked WHERE job_id = ? AND stage = 'load' "
            "AND status IN ('parked', 'waived')",
            (job_id,),
        ).fetchall()
    return {(m, k) for m, k in rows}


def waive(
    ws: Workspace, job_id: str, reason: str, rule: str | None = None, keys: list[str] | None = None
) -> int:
    """Accept parked rows as not migrated, with a reason; audited."""
    from workbench.roles import require

    actor = require(ws, "override_gate", what=f"waive parked rows of {job_id}")
    job = jobs.get(ws, job_id)
    if not reason.strip():
        raise jobs.JobError("a waiver needs a reason")
    where, params = "job_id = ? AND status = 'parked'", [job_id]
    if rule:
        where += " AND rule = ?"
        params.append(rule)
    if keys:
        where += f" AND source_key IN ({', '.join('?' for _ in keys)})"
        params += keys
    with state.connection(ws) as con:
        cur = con.execute(
            f"UPDATE parked SET status = 'waived', note = ?, decided_by = ?, decided_at = ? "
            f"WHERE {where}",
            [reason, actor.user, jobs.now(), *params],
        )
        n = cur.rowcount
    jobs.audit(
        ws,
        job,
        "waive",
        actor,
        counts={"rows": n},
        details={"reason": reason, "rule": rule, "keys": len(keys or [])},
    )
    return n
