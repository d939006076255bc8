"""Cut a projection's loadable rows into batches: per target table in load order, ordered by
mapping and source key, so batch numbers are the same every time the job runs (a resumed
commit skips exactly the batches the target already holds). A source row's target rows
(its variants) never straddle two batches."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from workbench.mapping.projection import Projection
from workbench.snapshot.staging import quote_ident as q
from workbench.target.model import TargetTable


@dataclass(frozen=True)
class Batch:
    number: int
    table: TargetTable
    rows: int

    @property
    def relation(self) -> str:
        return f"_wb_load_{self.table.name}"


def plan(projection: Projection, batch_size: int) -> list[Batch]:
    """Materialise ``_wb_load_<table>`` (rows with their ``_batch``) and list the batches."""
    con = projection.con
    compiled = projection.compiled
    batches: list[Batch] = []
    next_number = 1
    for table in compiled.model.load_order():
        if table.name not in compiled.template.targets():
            continue
        view = q(compiled.target_view(table.name))
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {q("_wb_load_" + table.name)} AS
            WITH groups AS (
              SELECT _mapping, _source_key, count(*) AS n FROM {view} GROUP BY ALL
            ), placed AS (
              SELECT *, sum(n) OVER (ORDER BY _mapping, _source_key
                ROWS UNBOUNDED PRECEDING) - n AS start FROM groups
            )
            SELECT v.*, {next_number} + CAST(floor(p.start / {int(batch_size)}) AS INTEGER)
              AS _batch
            FROM {view} v JOIN placed p USING (_mapping, _source_key)"""
        )
        counts = con.execute(
            f"SELECT _batch, count(*) FROM {q('_wb_load_' + table.name)} GROUP BY 1 ORDER BY 1"
        ).fetchall()
        batches += [Batch(n, table, rows) for n, rows in counts]
        if counts:
            next_number = counts[-1][0] + 1
    return batches


def batch_rows(projection: Projection, batch: Batch) -> pa.Table:
    return projection.con.sql(
        f"SELECT * EXCLUDE (_batch) FROM {q(batch.relation)} WHERE _batch = {int(batch.number)} "
        "ORDER BY _mapping, _source_key"
    ).to_arrow_table()
