"""Counting what a staging database holds, exactly, to build the manifest."""

from __future__ import annotations

from workbench.snapshot.manifest import ColumnInfo, TableInfo
from workbench.snapshot.staging import META, Staging, quote_ident


def _content_hash(staging: Staging, table: str) -> str:
    # An order-independent sum of row hashes: the same rows in any order hash the same,
    # and, unlike XOR, duplicate rows do not cancel out.
    q = quote_ident(table)
    value = staging.con.execute(f"SELECT coalesce(sum(hash({q})::HUGEINT), 0) FROM {q}").fetchone()
    return format(int(value[0]), "x")


def _columns(staging: Staging, table: str) -> list[ColumnInfo]:
    rows = staging.con.execute(
        f"""
        SELECT c.column_name, c.data_type, d.declared_type
        FROM information_schema.columns c
        LEFT JOIN {META}.columns d ON d.table_name = c.table_name AND d.column_name = c.column_name
        WHERE c.table_schema = 'main' AND c.table_name = ?
        ORDER BY c.ordinal_position
        """,
        [table],
    ).fetchall()
    return [ColumnInfo(name, dtype, decl) for name, dtype, decl in rows]


def tables(staging: Staging) -> list[TableInfo]:
    rejected = dict(
        staging.con.execute(
            f"SELECT table_name, count(*) FROM {META}.rejects GROUP BY ALL"
        ).fetchall()
    )
    inputs = dict(
        staging.con.execute(
            f"SELECT table_name, sum(records)::BIGINT FROM {META}.inputs GROUP BY ALL"
        ).fetchall()
    )
    out = []
    for name, rows, _ in staging.table_counts():
        out.append(
            TableInfo(
                name=name,
                rows=rows,
                rejected=rejected.pop(name, 0),
                input_records=inputs.pop(name, None),
                content_hash=_content_hash(staging, name),
                columns=_columns(staging, name),
            )
        )
    # A table whose every record was rejected still has to show up, with zero rows.
    for name in sorted(set(rejected) | set(inputs)):
        out.append(TableInfo(name, 0, rejected.get(name, 0), inputs.get(name), "0", []))
    return out


def rejects_hash(staging: Staging) -> str:
    value = staging.con.execute(
        f"SELECT coalesce(sum(hash(r))::HUGEINT, 0) FROM {META}.rejects r"
    ).fetchone()
    return format(int(value[0]), "x")


def skipped(staging: Staging) -> list[dict]:
    cur = staging.con.execute(f"SELECT * FROM {META}.skipped ORDER BY file, line")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
