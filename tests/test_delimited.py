"""Delimited text acquisition (kind = "csv") against csvkit's edge-case files and a few more.

Every expected count is computed here, independently, with Python's ``csv`` module over the
file decoded with the encoding this test states, never from the workbench's own output.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench import workspace as ws
from workbench.errors import ConfigError, SourceError
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import open_source
from workbench.sources.delimited import table_name, table_names
from workbench.sources.dialect import header_names

EDGE = Path(__file__).parent / "fixtures" / "csv-edge-cases"
EDGE_FILES = sorted(p.name for p in EDGE.iterdir() if p.name != "LICENSE-MIT.txt")
WORKBENCH = str(Path(sys.executable).parent / "workbench")

# What a reader of each file has to know to count its records with csv.
ENCODING = {
    "test_latin1.csv": "latin-1",
    "test_utf16_big.csv": "utf-16",
    "test_utf16_little.csv": "utf-16",
    "test_utf8_bom.csv": "utf-8-sig",
}
DELIMITER = {"dummy.tsv": "\t", "sniff_limit.csv": ";"}
# Files whose first record is data. join_no_header_row.csv starts with "d,e,f", which reads
# as a header; csvkit's tests pass it with --no-header-row, a user would set header = false.
NO_HEADER = {"no_header_row.csv", "no_header_row2.csv", "no_header_row3.csv"}
# Files that cannot be loaded, and the cause their one-line error must give.
UNREADABLE = {"empty.csv": "empty"}


def data_records(path: Path) -> int:
    text = path.read_bytes().decode(ENCODING.get(path.name, "utf-8"))
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITER.get(path.name, ","))
    records = sum(1 for row in rows if row)  # an empty line is not a record
    return records - (0 if path.name in NO_HEADER else 1)


def add_source(workspace_dir: Path, path: Path, name: str = "legacy", **options) -> None:
    lines = [f"\n[sources.{name}]", 'kind = "csv"', f"path = {json.dumps(str(path))}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    with (workspace_dir / "workbench.toml").open("a") as f:
        f.write("\n".join(lines) + "\n")


def take(workspace_dir: Path, path: Path, snapshot: str = "s", source="legacy", **options):
    add_source(workspace_dir, path, source, **options)
    wsp = ws.load(workspace_dir)
    return acquire(open_source(wsp, source), wsp.snapshots_dir, snapshot)


def query(acquired, sql: str, params=()):
    with open_snapshot(acquired.path.parent, acquired.path.name).connect() as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.mark.parametrize("name", EDGE_FILES)
def test_every_edge_case_loads_balanced_or_fails_in_one_line(workspace_dir, name):
    path = EDGE / name
    if name in UNREADABLE:
        with pytest.raises(SourceError) as err:
            take(workspace_dir, path)
        message = str(err.value)
        assert "\n" not in message and name in message and UNREADABLE[name] in message
        assert not any((workspace_dir / "snapshots").iterdir())  # nothing half-written
        return
    manifest = take(workspace_dir, path).manifest
    [table] = manifest.tables
    expected = data_records(path)
    assert table.name == table_name(path.stem)
    assert table.input_records == expected
    assert table.rows + table.rejected == expected


def test_ragged_rows_are_rejected_with_their_lines_and_text(workspace_dir):
    acquired = take(workspace_dir, EDGE / "bad.csv")
    assert acquired.manifest.table("bad").rows == 1
    rejects = query(
        acquired, "SELECT file, line, reason, raw FROM _workbench.rejects ORDER BY line"
    )
    assert [(f, line, raw) for f, line, _, raw in rejects] == [
        ("bad.csv", 2, '1,27,,"I\'m too long!"'),
        ("bad.csv", 3, ',"I\'m too short!"'),
    ]
    assert "TOO MANY COLUMNS" in rejects[0][2] and "MISSING COLUMNS" in rejects[1][2]


def test_leading_blank_lines_are_skipped_and_reported_and_lines_still_match(workspace_dir):
    acquired = take(workspace_dir, EDGE / "bad_skip_lines.csv")
    lines = query(acquired, "SELECT line FROM _workbench.rejects ORDER BY line")
    assert lines == [(5,), (6,)]  # the file's own line numbers, past the three blank lines
    assert query(acquired, "SELECT * FROM bad_skip_lines") == [("0", "mixed types.... uh oh", "17")]
    [skipped] = acquired.manifest.skipped
    assert skipped["kind"] == "blank lines" and skipped["detail"].startswith("3 ")


@pytest.mark.parametrize(
    ("name", "columns", "last_value"),
    [
        ("test_utf8.csv", ["foo", "bar", "baz"], "ʤ"),
        ("test_utf8_bom.csv", ["foo", "bar", "baz"], "ʤ"),
        ("test_utf16_little.csv", ["a", "b", "c"], "ʤ"),
        ("test_utf16_big.csv", ["a", "b", "c"], "ʤ"),
        ("test_latin1.csv", ["a", "b", "c"], "©"),
    ],
)
def test_encodings_decode_to_the_right_text(workspace_dir, name, columns, last_value):
    acquired = take(workspace_dir, EDGE / name)
    table = table_name(Path(name).stem)
    assert [c.name for c in acquired.manifest.table(table).columns] == columns
    rows = query(acquired, f'SELECT * FROM "{table}"')
    assert rows == [("1", "2", "3"), ("4", "5", last_value)]


def test_cp1252_curly_quotes_and_euro(workspace_dir, tmp_path):
    text = "name;note\r\nSmith;“quoted” – costs 5 €\r\nJones;plain\r\n"
    path = tmp_path / "notes.csv"
    path.write_bytes(text.encode("cp1252"))
    assert any(0x80 <= b <= 0x9F for b in path.read_bytes())  # the bytes Latin-1 gets wrong
    acquired = take(workspace_dir, path)
    assert query(acquired, "SELECT * FROM notes ORDER BY name") == [
        ("Jones", "plain"),
        ("Smith", "“quoted” – costs 5 €"),
    ]


@pytest.mark.parametrize("name", ["sniff_limit.csv", "dummy.tsv"])
def test_semicolon_and_tab_delimiters(workspace_dir, name):
    acquired = take(workspace_dir, EDGE / name)
    table = table_name(Path(name).stem)
    assert [c.name for c in acquired.manifest.table(table).columns] == ["a", "b", "c"]
    assert query(acquired, f"SELECT * FROM {table}") == [("1", "2", "3")]


def test_files_without_a_header_get_numbered_columns(workspace_dir):
    acquired = take(workspace_dir, EDGE / "no_header_row3.csv")
    table = acquired.manifest.table("no_header_row3")
    assert [c.name for c in table.columns] == ["column_1", "column_2", "column_3"]
    assert query(acquired, "SELECT * FROM no_header_row3") == [("1", "2", "3"), ("4", "5", "6")]


def test_header_false_override_keeps_the_first_line_as_data(workspace_dir):
    acquired = take(workspace_dir, EDGE / "join_no_header_row.csv", header=False)
    assert acquired.manifest.table("join_no_header_row").rows == 4


def test_newline_inside_a_header_name(workspace_dir):
    acquired = take(workspace_dir, EDGE / "test_header_newline.csv")
    table = acquired.manifest.table("test_header_newline")
    first = "\t\n\v\f\r start \t\n\v\f\r end \t\n\v\f\r"
    assert [c.name for c in table.columns] == [first, "b", "c"]
    assert query(acquired, "SELECT * FROM test_header_newline") == [("d", "e", "f")]


def test_values_stay_raw_text(workspace_dir):
    acquired = take(workspace_dir, EDGE / "test_no_leading_zeroes.csv")
    assert query(acquired, "SELECT * FROM test_no_leading_zeroes") == [("01", "00.11", "0.1")]
    assert {c.type for c in acquired.manifest.table("test_no_leading_zeroes").columns} == {
        "VARCHAR"
    }


def test_empty_and_duplicate_header_names_are_made_unique():
    assert header_names(["a", "", "A", "a", "column_2", " "]) == [
        "a", "column_2_2", "A_2", "a_3", "column_2", "column_6",
    ]  # fmt: skip


def test_table_names_are_safe_and_collisions_deterministic():
    assert table_name("Patient List (2019)") == "patient_list_2019"
    assert table_name("2019 visits") == "t_2019_visits"
    assert table_name("Ärzte") == "arzte"
    files = [Path(n) for n in ["dummy.csv", "dummy.tsv", "dummy_2.csv", "DUMMY.txt"]]
    assert table_names(files) == ["dummy", "dummy_3", "dummy_2", "dummy_4"]


def test_folder_one_table_per_file_with_skips_reported(workspace_dir, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ["dummy.csv", "dummy.tsv", "bad.csv", "test_latin1.csv", "LICENSE-MIT.txt"]:
        (folder / name).write_bytes((EDGE / name).read_bytes())
    (folder / "README.md").write_text("not data\n")
    (folder / "empty.csv").write_text("\n")
    manifest = take(workspace_dir, folder).manifest
    assert sorted(t.name for t in manifest.tables) == [
        "bad", "dummy", "dummy_2", "license_mit", "test_latin1",
    ]  # fmt: skip
    assert manifest.rejected >= 2
    skipped = {(s["file"], s["kind"]) for s in manifest.skipped}
    assert {("README.md", "file"), ("empty.csv", "file")} <= skipped
    assert sorted(Path(f.path).name for f in manifest.inputs) == [
        "LICENSE-MIT.txt", "bad.csv", "dummy.csv", "dummy.tsv", "empty.csv", "test_latin1.csv",
    ]  # fmt: skip


def test_stray_quotes_are_counted_exactly(workspace_dir, tmp_path):
    # A quote inside an unquoted field defeats the fast quote-parity count: csv counts instead.
    path = tmp_path / "heights.csv"
    path.write_text('id,height,note\n1,5\'10",tall\n2,6\'1",taller "still"\n3,"x\ny",z\n')
    manifest = take(workspace_dir, path).manifest
    assert manifest.table("heights").rows == data_records(path) == 3


def test_blank_lines_in_a_single_column_file_are_not_records(workspace_dir, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text('code\nA1\n\n""\nB2\n\n')  # "" is a record: an empty string
    acquired = take(workspace_dir, path)
    assert query(acquired, "SELECT * FROM codes") == [("A1",), ("",), ("B2",)]
    assert acquired.manifest.table("codes").input_records == data_records(path) == 3
    [skipped] = acquired.manifest.skipped
    assert skipped["detail"].startswith("2 empty lines")


def test_quoting_that_parsers_split_differently_fails_in_one_line(workspace_dir, tmp_path):
    # An unterminated quote followed by more quotes: DuckDB and csv disagree on where the
    # records end, so the counts cannot balance; the error says so instead of guessing.
    path = tmp_path / "broken.csv"
    path.write_text('h1,h2,h3\n1,2,"un\na,"cr\rx",b\n', newline="")
    with pytest.raises(SourceError) as err:
        take(workspace_dir, path)
    message = str(err.value)
    assert "\n" not in message and message.startswith("broken.csv: ")
    assert "malformed quoting" in message and "first rejected line 2" in message


def test_mixed_line_endings_fail_in_one_line(workspace_dir, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"a,b\n1,2\r3,4\n5,6\r\n")
    with pytest.raises(SourceError, match=r"^mixed\.csv: cannot be read as delimited text: "):
        take(workspace_dir, path)


def test_many_rejects_in_a_large_file_keep_exact_line_numbers(workspace_dir, tmp_path):
    # Bigger than DuckDB's 32 MB read buffer, so it is scanned in parallel pieces; quoted
    # newlines and blank lines make records and lines differ, so a line that is off shows up.
    path = tmp_path / "large.csv"
    bad_lines, line = [], 1
    with path.open("w", newline="") as f:
        f.write("id,name,note\r\n")
        for i in range(500_000):
            if i % 40_000 == 7:
                f.write(f"{i},too,many,fields\r\n")
                bad_lines.append(line + 1)
                line += 1
            elif i % 1000 == 3:
                f.write(f'{i},"multi\r\nline",x\r\n\r\n')
                line += 3
            else:
                f.write(f"{i},name {i},{'n' * 60}\r\n")
                line += 1
    acquired = take(workspace_dir, path)
    table = acquired.manifest.table("large")
    assert path.stat().st_size > 32 << 20
    assert table.input_records == data_records(path) == 500_000
    assert (table.rows, table.rejected) == (500_000 - len(bad_lines), len(bad_lines))
    lines = query(acquired, "SELECT line FROM _workbench.rejects ORDER BY line")
    assert [r[0] for r in lines] == bad_lines
    raws = query(acquired, "SELECT raw FROM _workbench.rejects ORDER BY line")
    assert raws[0] == ("7,too,many,fields",)


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"PK\x03\x04" + bytes(range(256)) * 4, "zip archive"),
        (bytes(range(256)) * 16, "control characters"),
    ],
)
def test_binary_files_fail_in_one_line(workspace_dir, tmp_path, content, cause):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        take(workspace_dir, path)
    assert "\n" not in str(err.value) and "data.csv" in str(err.value) and cause in str(err.value)


def test_a_real_xlsx_is_recognised(workspace_dir, tmp_path):
    path = tmp_path / "export.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(SourceError, match=r"export\.csv: not delimited text: .*xlsx"):
        take(workspace_dir, path)


def late_latin1(tmp_path: Path) -> Path:
    path = tmp_path / "late.csv"
    body = "".join(f"{i},plain ascii row number {i}\n" for i in range(60_000))
    path.write_bytes(b"id,text\n" + body.encode() + b"60000,caf\xe9\n60001,ok\n")
    assert path.stat().st_size > 1 << 20  # past the head the detector reads in full
    return path


def test_latin1_past_the_head_is_still_detected(workspace_dir, tmp_path):
    acquired = take(workspace_dir, late_latin1(tmp_path))
    assert query(acquired, "SELECT text FROM late WHERE id = '60000'") == [("café",)]


def test_invalid_utf8_is_rejected_not_dropped(workspace_dir, tmp_path):
    acquired = take(workspace_dir, late_latin1(tmp_path), encoding="utf-8")
    table = acquired.manifest.table("late")
    assert (table.rows, table.rejected, table.input_records) == (60_001, 1, 60_002)
    [(line, reason)] = query(acquired, "SELECT line, reason FROM _workbench.rejects")
    assert line == 60_002 and "INVALID ENCODING" in reason


def test_an_undecodable_utf16_file_fails_in_one_line(workspace_dir, tmp_path):
    path = tmp_path / "broken16.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "a,b\n1,2\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(SourceError, match=r"^broken16\.csv: not valid utf-16-le"):
        take(workspace_dir, path)


def test_bad_options_are_config_errors(workspace_dir):
    with pytest.raises(ConfigError, match=r"^source 'a': 'delimiter' must be one character"):
        take(workspace_dir, EDGE / "dummy.csv", source="a", delimiter=",,")
    with pytest.raises(ConfigError, match=r"^source 'b': unknown encoding 'klingon'"):
        take(workspace_dir, EDGE / "dummy.csv", source="b", encoding="klingon")


def test_missing_path_is_unreachable(workspace_dir, tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        take(workspace_dir, tmp_path / "nowhere")


def test_same_input_same_fingerprint(workspace_dir):
    a = take(workspace_dir, EDGE / "bad.csv", snapshot="a").manifest
    wsp = ws.load(workspace_dir)
    b = acquire(open_source(wsp, "legacy"), wsp.snapshots_dir, "b").manifest
    assert a.fingerprint == b.fingerprint and a.rejects_hash == b.rejects_hash


def test_cli_acquire_json(workspace_dir):
    add_source(workspace_dir, EDGE / "bad.csv", name="x")
    result = subprocess.run(
        [WORKBENCH, "acquire", "x", "--snapshot", "s", "-w", str(workspace_dir), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert (manifest["rows"], manifest["rejected"]) == (1, 2)
    assert manifest["tables"][0]["input_records"] == 3


def test_cli_error_is_one_line(workspace_dir):
    add_source(workspace_dir, EDGE / "empty.csv", name="x")
    result = subprocess.run(
        [WORKBENCH, "acquire", "x", "--snapshot", "s", "-w", str(workspace_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "empty.csv" in lines[0] and "Traceback" not in result.stderr
