"""The synthetic clinic, generated and acquired: the snapshot holds exactly what the
generator's manifest says it wrote, values and dirt included."""

from pathlib import Path

import duckdb
import pytest

from workbench import workspace
from workbench.snapshot import acquire
from workbench.sources import from_config
from workbench.synth import generate

CASES = [
    pytest.param("ohm", "mysqldump", "utf-8", 1_000, id="ohm-dump-1k"),
    pytest.param("medgate", "mysqldump", "cp1252", 1_000, id="medgate-dump-cp1252-1k"),
    pytest.param("ohm", "csv", "cp1252", 1_000, id="ohm-csv-cp1252-1k"),
    pytest.param("medgate", "csv", "utf-8", 1_000, id="medgate-csv-1k"),
    pytest.param("ohm", "mysqldump", "utf-8", 100_000, id="ohm-dump-100k", marks=pytest.mark.slow),
    pytest.param("medgate", "csv", "utf-8", 100_000, id="medgate-csv-100k", marks=pytest.mark.slow),
]


def _acquire(tmp_path: Path, style, fmt, encoding, people):
    data = tmp_path / "data"
    truth = generate(style=style, people=people, seed=11, fmt=fmt, out=data, encoding=encoding)
    path = data / f"{style}.sql" if fmt == "mysqldump" else data
    ws = workspace.init(tmp_path / "ws")
    source = from_config(
        "clinic", {"kind": "mysqldump" if fmt == "mysqldump" else "csv", "path": str(path)}, ws
    )
    return truth, acquire(source, ws.snapshots_dir, "s")


@pytest.mark.parametrize(("style", "fmt", "encoding", "people"), CASES)
def test_snapshot_equals_the_generators_manifest(tmp_path, style, fmt, encoding, people):
    truth, result = _acquire(tmp_path, style, fmt, encoding, people)
    m = result.manifest
    assert {t.name: t.rows for t in m.tables} == truth.rows
    assert m.rejected == 0
    assert m.rows == truth.total_rows
    dirt = truth.dirt
    con = duckdb.connect(str(result.path / "staging.duckdb"), read_only=True)
    try:
        # Sentinel nulls arrive as the legacy text they were, never as SQL NULL.
        for table, columns in dirt["sentinels"].items():
            for column, by_value in columns.items():
                for value, expected in by_value.items():
                    got = con.execute(
                        f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) = ?',
                        [value],
                    ).fetchone()[0]
                    assert got == expected, (table, column, value)
        # Trailing spaces survive acquisition.
        for table, columns in dirt["trailing_spaces"].items():
            for column, expected in columns.items():
                got = con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE \'% \''
                ).fetchone()[0]
                assert got == expected, (table, column)
    finally:
        con.close()


def test_cp1252_names_decode_to_the_same_text_as_utf8(tmp_path):
    _, utf8 = _acquire(tmp_path / "u", "ohm", "csv", "utf-8", 300)
    _, cp = _acquire(tmp_path / "c", "ohm", "csv", "cp1252", 300)
    assert utf8.manifest.fingerprint == cp.manifest.fingerprint
