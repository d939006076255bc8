"""``workbench synth``: repeatable bytes, and a manifest that matches what is really there.

Every count in the manifest is checked against an independent count: Python's csv module over
the CSVs, the real MariaDB client restoring the dump, SQL over tables loaded into live MariaDB
and PostgreSQL.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import re
import resource
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from conftest import require_tool
from workbench.errors import SynthError
from workbench.synth import MANIFEST_NAME, Dirt, generate, vocab
from workbench.synth.build import build_chunk, check_refs_in_chunk
from workbench.synth.dirt import unloadable
from workbench.synth.ledger import Ledger
from workbench.synth.people import SSN_SPACE, SSN_STEP
from workbench.synth.plan import make_plan
from workbench.synth.styles import get_style
from workbench.synth.tables import Col, TableSpec
from workbench.synth.writers import mysqldump

WORKBENCH = str(Path(sys.executable).parent / "workbench")
STYLES = ("ohm", "medgate")
# more of the rare kinds than the defaults, so that small runs have plenty to count
DIRTY = Dirt().with_rates(duplicate_people=0.05, orphan_fks=0.01, cp1252_names=0.1)
DATE_PATTERNS = {
    "ISO": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "MM/DD/YYYY": re.compile(r"\d{2}/\d{2}/\d{4}"),
    "YYYYMMDD": re.compile(r"\d{8}"),
    "DD-Mon-YY": re.compile(r"\d{2}-[A-Z][a-z]{2}-\d{2}"),
}
SENTINELS = ("NULL", "N/A", "0000-00-00")
NON_ASCII = re.compile(r"[^\x00-\x7f]")


def make(tmp: Path, style="ohm", people=500, seed=11, fmt="csv", **kw) -> tuple[Path, dict]:
    out = tmp / f"{style}-{fmt}-{seed}-{people}-{kw.get('encoding', 'utf-8')}"
    generate(
        style=style,
        people=people,
        seed=seed,
        fmt=fmt,
        out=out,
        dirt=kw.pop("dirt", DIRTY),
        chunk_size=kw.pop("chunk_size", 200),
        **kw,
    )
    return out, json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))


def read_csvs(folder: Path, manifest: dict, encoding="utf-8") -> dict[str, list[dict]]:
    tables = {}
    for name in manifest["tables"]:
        with (folder / f"{name}.csv").open(newline="", encoding=encoding) as f:
            tables[name] = list(csv.DictReader(f))
    return tables


@pytest.fixture(scope="module", params=STYLES)
def clinic(request, tmp_path_factory):
    """A dirty clinic of 500 people in 3 chunks, as CSV, read back with the csv module."""
    out, manifest = make(tmp_path_factory.mktemp("clinic"), style=request.param)
    return out, manifest, read_csvs(out, manifest)


# --- repeatable ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "mysqldump"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, fmt):
    def files(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    for style in STYLES:
        a = files(make(tmp_path / "a", style=style, people=300, fmt=fmt)[0])
        b = files(make(tmp_path / "b", style=style, people=300, fmt=fmt)[0])
        c = files(make(tmp_path / "c", style=style, people=300, fmt=fmt, seed=12)[0])
        assert a == b, f"{style} {fmt}: same seed, different bytes"
        assert a.keys() == c.keys()
        data = [n for n in a if n != MANIFEST_NAME]
        assert all(a[n] != c[n] for n in data), f"{style} {fmt}: another seed, same bytes"
        manifest = json.loads(a[MANIFEST_NAME])
        for f in manifest["files"]:
            assert hashlib.sha256(a[f["path"]]).hexdigest() == f["sha256"]
            assert len(a[f["path"]]) == f["bytes"]


def test_a_chunk_does_not_depend_on_the_others():
    plan = make_plan(get_style("medgate"), 700, 5, DIRTY, chunk_size=200)
    alone = build_chunk(plan, 2)
    in_order = [build_chunk(plan, i) for i in range(4)][2]
    for (spec, a), (_, b) in zip(alone.tables, in_order.tables, strict=True):
        assert a.equals(b), spec.name
    assert alone.ledger.data == in_order.ledger.data


# --- rows and dirt, counted independently ---------------------------------------------------


def test_rows_per_table_match_the_csv_module(clinic):
    _, manifest, tables = clinic
    for name, info in manifest["tables"].items():
        assert len(tables[name]) == info["rows"], name
        assert list(tables[name][0]) == [c["name"] for c in info["columns"]], name
    assert manifest["total_rows"] == sum(len(t) for t in tables.values())


def test_sentinels_and_date_formats_match(clinic):
    _, manifest, tables = clinic
    dirt = manifest["dirt"]
    for table, rows in tables.items():
        for column in rows[0]:
            values = [r[column] for r in rows]
            for sentinel in SENTINELS:
                seen = values.count(sentinel)
                expected = dirt["sentinels"].get(table, {}).get(column, {}).get(sentinel, 0)
                assert seen == expected, (table, column, sentinel)
    date_columns = 0
    for table, columns in dirt["date_formats"].items():
        for column, counts in columns.items():
            values = [r[column] for r in tables[table]]
            for name, pattern in DATE_PATTERNS.items():
                seen = sum(1 for v in values if pattern.fullmatch(v) and v != "0000-00-00")
                assert seen == counts.get(name, 0), (table, column, name)
            date_columns += 1
            blank = values.count("")
            assert sum(counts.values()) + blank + sum(
                dirt["sentinels"][table][column].values()
            ) == len(values), (table, column)
    assert date_columns >= 15
    totals = dirt["totals"]
    assert totals["dates_MM/DD/YYYY"] > 0 and totals["dates_DD-Mon-YY"] > 0
    assert totals["sentinel_N/A"] > 0 and totals["sentinel_0000-00-00"] > 0


def test_trailing_spaces_match(clinic):
    _, manifest, tables = clinic
    listed = manifest["dirt"]["trailing_spaces"]
    total = 0
    for table, rows in tables.items():
        for column in rows[0]:
            seen = sum(1 for r in rows if r[column].endswith(" "))
            assert seen == listed.get(table, {}).get(column, 0), (table, column)
            total += seen
    assert total == manifest["dirt"]["totals"]["trailing_spaces"] > 0


def test_orphans_and_unloadable_rows_match(clinic):
    _, manifest, tables = clinic
    orphans = manifest["dirt"]["orphan_fks"]
    unloadable = manifest["expected"]["unloadable_rows"]
    for table, columns in orphans.items():
        bad_rows = set()
        for column, info in columns.items():
            ref_table, ref_column = info["references"].split(".")
            keys = {r[ref_column] for r in tables[ref_table]}
            bad = {i for i, r in enumerate(tables[table]) if r[column] and r[column] not in keys}
            assert len(bad) == info["rows"], (table, column)
            bad_rows |= bad
        # the rest of a table's unloadable rows are the cascade, counted below in SQL
        assert len(bad_rows) == unloadable["tables"][table] - unloadable["cascaded"][table]
    assert manifest["dirt"]["totals"]["orphan_fks"] > 0


# Every reference a migration turns into a target foreign key, written out by hand (not read
# from the generator): (table, column) -> (table, column). Besides these, every table but
# the people table points at a person.
REFERENCES = {
    "ohm": {("vitals", "APPT_ID"): ("appointments", "APPT_ID")},
    "medgate": {
        (t, "CaseNumber"): ("casemaster", "CaseNumber")
        for t in ("clinicvisit", "employeerestrictions", "employeelosttime")
    },
}
PEOPLE = {"ohm": ("demographics", "EMP_ID"), "medgate": ("employee", "EmployeeID")}


def unloadable_in_sql(folder: Path, style: str, rows: dict[str, int]) -> tuple[dict, dict]:
    """Rows a migration cannot load, found with SQL over the CSVs alone: orphans (a non-NULL
    reference that matches no row), then anti-joins repeated until nothing changes (a
    reference to a row already found unloadable). Returns (unloadable, cascaded) per table."""
    tables = list(rows)
    people, person_id = PEOPLE[style]
    edges = {(t, person_id): (people, person_id) for t in tables if t != people}
    edges |= REFERENCES[style]
    con = duckdb.connect()
    for t in tables:
        path = str(folder / f"{t}.csv").replace("'", "''")
        con.execute(
            f'CREATE TABLE "{t}" AS SELECT row_number() OVER () AS _row, * '
            f"FROM read_csv('{path}', header=true, all_varchar=true, quote='\"', escape='\"')"
        )
        assert con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] == rows[t], t
    con.execute("CREATE TABLE orphan (tbl VARCHAR, _row BIGINT)")
    for (t, c), (p, pc) in edges.items():
        con.execute(
            f'INSERT INTO orphan SELECT \'{t}\', x._row FROM "{t}" x WHERE x."{c}" IS NOT NULL '
            f'AND NOT EXISTS (SELECT 1 FROM "{p}" y WHERE y."{pc}" = x."{c}")'
        )
    con.execute("CREATE TABLE bad AS SELECT DISTINCT * FROM orphan")
    while True:
        before = con.execute("SELECT count(*) FROM bad").fetchone()[0]
        for (t, c), (p, pc) in edges.items():
            con.execute(
                f"INSERT INTO bad SELECT DISTINCT '{t}', x._row FROM \"{t}\" x "
                f'JOIN "{p}" y ON y."{pc}" = x."{c}" '
                f"JOIN bad b ON b.tbl = '{p}' AND b._row = y._row "
                f"WHERE NOT EXISTS (SELECT 1 FROM bad z WHERE z.tbl = '{t}' AND z._row = x._row)"
            )
        if con.execute("SELECT count(*) FROM bad").fetchone()[0] == before:
            break

    def per_table(query: str) -> dict[str, int]:
        counts = dict(con.execute(query).fetchall())
        return {t: counts.get(t, 0) for t in tables}

    lost = per_table("SELECT tbl, count(DISTINCT _row) FROM bad GROUP BY tbl")
    cascaded = per_table(
        "SELECT tbl, count(*) FROM (SELECT * FROM bad EXCEPT SELECT * FROM orphan) GROUP BY tbl"
    )
    con.close()
    return lost, cascaded


def check_unloadable(folder: Path, manifest: dict) -> tuple[dict, dict]:
    style = manifest["style"]
    references = {
        (t, c): tuple(ref.split("."))
        for t, info in manifest["tables"].items()
        for c, ref in info["references"].items()
    }
    people, person_id = PEOPLE[style]
    assert (
        references
        == {(t, person_id): (people, person_id) for t in manifest["tables"] if t != people}
        | REFERENCES[style]
    ), "the style's references changed: update REFERENCES"
    rows = {t: info["rows"] for t, info in manifest["tables"].items()}
    lost, cascaded = unloadable_in_sql(folder, style, rows)
    expected = manifest["expected"]["unloadable_rows"]
    assert expected["tables"] == lost
    assert expected["cascaded"] == cascaded
    assert expected["total"] == sum(lost.values())
    return lost, cascaded


def test_unloadable_rows_with_the_cascade_match_sql(clinic):
    out, manifest, _ = clinic
    check_unloadable(out, manifest)


@pytest.mark.parametrize("style", STYLES)
def test_the_cascade_reaches_children_of_unloadable_rows(tmp_path, style):
    """A few thousand people in several chunks, with many orphans: vitals of an appointment
    (OHM), visits of an incident (Medgate) whose person is an orphan cannot load either."""
    dirt = DIRTY.with_rates(orphan_fks=0.05)
    out, manifest = make(tmp_path, style=style, people=3000, dirt=dirt, chunk_size=1000)
    lost, cascaded = check_unloadable(out, manifest)
    child = "vitals" if style == "ohm" else "clinicvisit"
    assert cascaded[child] > 0
    assert lost[child] > cascaded[child]
    # duplicate people are not lost: their rows are re-pointed to the surviving person
    assert manifest["dirt"]["duplicate_people"]["child_rows_under_duplicate_id"][child] > 0
    assert lost[PEOPLE[style][0]] == 0


def test_a_reference_that_leaves_its_chunk_is_a_bug_in_the_style():
    parent = pl.DataFrame({"id": [1, 2]})
    spec = TableSpec(
        "child",
        (Col("id", "int(11)", "id"), Col("p", "int(11)", "ref", references="parent.id")),
        build=None,
    )
    check_refs_in_chunk(spec, pl.DataFrame({"id": [1, 2], "p": [2, None]}), {"parent": parent})
    with pytest.raises(SynthError, match="leave the chunk"):
        check_refs_in_chunk(spec, pl.DataFrame({"id": [1], "p": [3]}), {"parent": parent})


def test_duplicate_people_match(clinic):
    _, manifest, tables = clinic
    dup = manifest["dirt"]["duplicate_people"]
    people_table = manifest["parameters"]["people_table"]
    people = tables[people_table]
    pk = manifest["tables"][people_table]["primary_key"]
    ssn = [re.sub(r"\D", "", r["SSN"]) for r in people]
    assert len(people) - len(set(ssn)) == dup["rows"] == len(dup["pairs"]) > 0
    by_id = {r[pk]: s for r, s in zip(people, ssn, strict=True)}
    for new, old in dup["pairs"]:
        assert by_id[str(new)] == by_id[str(old)] and new > old
    dup_ids = {str(new) for new, _ in dup["pairs"]}
    fk = "EMP_ID" if manifest["style"] == "ohm" else "EmployeeID"
    for table, moved in dup["child_rows_under_duplicate_id"].items():
        assert sum(1 for r in tables[table] if r[fk] in dup_ids) == moved, table
    assert len(people) == manifest["people"] + dup["rows"]


def test_cp1252_names_and_notes_match(clinic):
    _, manifest, tables = clinic
    names = manifest["dirt"]["cp1252_names"]
    people = tables[names["table"]]
    seen = sum(1 for r in people if any(NON_ASCII.search(r[c]) for c in names["columns"]))
    assert seen == names["rows"] > 0
    marks = {
        "newline": "\n",
        "double_quote": '"',
        "single_quote": "'",
        "comma": ",",
        "semicolon": ";",
        "tab": "\t",
        "backslash": "\\",
    }
    for table, columns in manifest["dirt"]["notes"].items():
        for column, counts in columns.items():
            notes = [r[column] for r in tables[table] if r[column]]
            assert len(notes) == counts["rows"]
            for mark, char in marks.items():
                assert sum(char in n for n in notes) == counts[mark] > 0, (table, column, mark)
            assert not any(n != n.rstrip() for n in notes)


def test_local_codes_and_crosswalk_match(clinic):
    _, manifest, tables = clinic
    crosswalks = manifest["crosswalks"]
    vaccine = crosswalks["vaccine_cvx"]["codes"]
    assert vaccine["FLU"]["standard"] == "141" and vaccine["TDAP"]["standard"] == "115"
    assert vaccine["HEPB-1"]["standard"] == "43" and vaccine["OTHER"]["standard"] is None
    for table, columns in manifest["dirt"]["local_codes"].items():
        for column, info in columns.items():
            seen = Counter(r[column].rstrip(" ") for r in tables[table] if r[column])
            assert dict(seen) == info["rows"], (table, column)
            known = crosswalks[info["crosswalk"]]["codes"]
            assert set(seen) <= set(known), (table, column)
            unmapped = {c: n for c, n in seen.items() if known[c]["standard"] is None}
            assert unmapped == info["unmapped"], (table, column)
    vaccine_table = "immunization" if manifest["style"] == "ohm" else "immunizations"
    assert any(
        c in ("OTHER", "TRAVEL")
        for c in manifest["dirt"]["local_codes"][vaccine_table][
            next(iter(manifest["dirt"]["local_codes"][vaccine_table]))
        ]["unmapped"]
    )


def test_unparseable_dates_match(clinic):
    _, manifest, tables = clinic
    unparseable = manifest["expected"]["unparseable_values"]
    for table, columns in unparseable["tables"].items():
        for column, n in columns.items():
            assert sum(r[column] in SENTINELS for r in tables[table]) == n, (table, column)


def test_values_are_plausible(clinic):
    _, manifest, tables = clinic
    if manifest["style"] == "ohm":
        audio = pl.DataFrame(tables["audio"])
        db = pl.concat([audio[c] for c in audio.columns if re.fullmatch(r"[RL]\d+", c)])
        vitals, sys_, dia, bmi = tables["vitals"], "BP_SYS", "BP_DIA", "BMI"
        tb = [r for r in tables["tuber"] if r["LAB_CODE"].rstrip() == "PPD" and r["INDURATION_MM"]]
        assert all(
            (int(r["INDURATION_MM"]) >= 10) == (r["RESULT"] == "POSITIVE")
            for r in tb
            if r["RESULT"] in ("POSITIVE", "NEGATIVE")
        )
        pft = tables["pft"]
        assert all(30 <= float(r["FEV1_FVC"]) <= 100 for r in pft)
    else:
        audio = pl.DataFrame(tables["audiometry"])
        db = pl.concat([audio[c] for c in audio.columns if c.endswith("Hz")])
        vitals, sys_, dia, bmi = tables["clinicvisit"], "Systolic", "Diastolic", "BMI"
        snellen = {r["RightDistance"] for r in tables["visiontests"]}
        assert snellen <= {f"20/{x}" for x in (15, 20, 25, 30, 40, 50, 70, 100, 200)}
        cases = {r["CaseNumber"] for r in tables["casemaster"]}
        assert all(r["CaseNumber"] in cases for r in tables["clinicvisit"] if r["CaseNumber"])
    levels = np.array([int(v) for v in db.to_list() if v])
    assert levels.min() >= -10 and levels.max() <= 110 and set(levels % 5) == {0}
    assert 0 <= np.median(levels) <= 25
    assert all(86 <= int(r[sys_]) <= 218 and int(r[dia]) < int(r[sys_]) for r in vitals)
    assert all(15 < float(r[bmi]) < 70 for r in vitals if r[bmi])


# --- encodings ------------------------------------------------------------------------------


def test_cp1252_csv_is_real_cp1252(tmp_path):
    dirt = DIRTY.with_rates(cp1252_names=0.3)
    utf8, _ = make(tmp_path, people=200, dirt=dirt)
    win, manifest = make(tmp_path, people=200, dirt=dirt, encoding="cp1252")
    assert manifest["parameters"]["encoding"] == "cp1252"
    raw = (win / "demographics.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("cp1252") == (utf8 / "demographics.csv").read_bytes().decode("utf-8")
    assert "ñ".encode("cp1252") in raw or "é".encode("cp1252") in raw
    for name in manifest["tables"]:
        a = (win / f"{name}.csv").read_bytes().decode("cp1252")
        assert a == (utf8 / f"{name}.csv").read_bytes().decode("utf-8"), name


def test_word_pools_are_cp1252_and_carry_no_dirt_of_their_own():
    pools = [getattr(vocab, n) for n in dir(vocab) if n.isupper()]
    for pool in pools:
        for item in pool:
            for word in item if isinstance(item, tuple) else (item,):
                if isinstance(word, str):
                    word.encode("cp1252")
                    assert word == word.strip() and word not in SENTINELS
    assert not any(NON_ASCII.search(w) for w in vocab.LAST_NAMES + vocab.FIRST_NAMES_M)
    assert all(NON_ASCII.search(w) for w in vocab.LAST_NAMES_CP1252)
    assert np.gcd(SSN_STEP, SSN_SPACE) == 1


# --- mysqldump ------------------------------------------------------------------------------


def test_mysqldump_escapes_like_mysql_and_bounds_statements():
    spec = TableSpec("t", (Col("id", "int(11)", "id"), Col("s", "text", "note")), build=None)
    frame = pl.DataFrame({"id": [1, 2, 3], "s": ["a'b\"c\\d\ne\rf\0g\x1ah", None, "plain"]})
    sql = mysqldump.insert_statements(spec, frame)
    assert sql == (
        "INSERT INTO `t` VALUES (1,'a\\'b\\\"c\\\\d\\ne\\rf\\0g\\Zh'),(2,NULL),(3,'plain');\n"
    )
    big = pl.DataFrame({"id": range(40_000), "s": ["x" * 90] * 40_000})
    statements = mysqldump.insert_statements(spec, big).splitlines()
    assert len(statements) > 3
    assert all(len(s.encode()) <= mysqldump.NET_BUFFER_LENGTH + 200 for s in statements)
    assert sum(s.count("),(") + 1 for s in statements) == 40_000


def _mariadb(url: str, database: str, sql_file: Path | None = None, query: str | None = None):
    u = sa.engine.make_url(url)
    args = [
        require_tool("mariadb"),
        f"--host={u.host or '127.0.0.1'}",
        f"--port={u.port or 3306}",
        f"--user={u.username}",
        "--batch",
        "--skip-column-names",
    ]
    if u.password:
        args.append(f"--password={u.password}")
    args.append(database)
    if query:
        args += ["-e", query]
    stdin = sql_file.open("rb") if sql_file else None
    try:
        result = subprocess.run(args, stdin=stdin, capture_output=True, timeout=300)
    finally:
        if stdin:
            stdin.close()
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


@pytest.fixture
def scratch_mariadb(mariadb_url):
    name = f"synth_test_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(mariadb_url)
    with engine.begin() as con:
        con.exec_driver_sql(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        with engine.begin() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


@pytest.mark.services
@pytest.mark.parametrize(("style", "encoding"), [("ohm", "utf-8"), ("medgate", "cp1252")])
def test_mysqldump_restores_into_mariadb(tmp_path, mariadb_url, scratch_mariadb, style, encoding):
    out, manifest = make(tmp_path, style=style, people=300, fmt="mysqldump", encoding=encoding)
    dump = out / f"{style}.sql"
    text = dump.read_bytes().decode(encoding)
    for marker in (
        "/*!40101 SET NAMES",
        "DROP TABLE IF EXISTS",
        "ENGINE=InnoDB",
        "LOCK TABLES `",
        "/*!40000 ALTER TABLE",
        "UNLOCK TABLES;",
        "-- Dump completed",
    ):
        assert marker in text, marker
    _mariadb(mariadb_url, scratch_mariadb, sql_file=dump)
    engine = sa.create_engine(mariadb_url.rsplit("/", 1)[0] + f"/{scratch_mariadb}?charset=utf8mb4")
    csv_out, _ = make(tmp_path, style=style, people=300)
    tables = read_csvs(csv_out, manifest)
    try:
        with engine.connect() as con:
            for name, info in manifest["tables"].items():
                count = con.exec_driver_sql(f"SELECT COUNT(*) FROM `{name}`").scalar()
                assert count == info["rows"], name
            # the escaping round-trips: notes and names come back exactly as generated
            notes = "docnote" if style == "ohm" else "casemaster"
            key, text_col = (
                ("NOTE_ID", "NOTE_TEXT") if style == "ohm" else ("CaseNumber", "CaseNotes")
            )
            got = dict(con.exec_driver_sql(f"SELECT `{key}`, `{text_col}` FROM `{notes}`").all())
            assert {str(k): v for k, v in got.items()} == {
                r[key]: r[text_col] for r in tables[notes]
            }
            people = manifest["parameters"]["people_table"]
            pk = manifest["tables"][people]["primary_key"]
            last = manifest["dirt"]["cp1252_names"]["columns"][0]
            got = dict(con.exec_driver_sql(f"SELECT `{pk}`, `{last}` FROM `{people}`").all())
            assert {str(k): v for k, v in got.items()} == {r[pk]: r[last] for r in tables[people]}
    finally:
        engine.dispose()


# --- database -------------------------------------------------------------------------------


def _database_counts(url: str, schema: str, manifest: dict) -> dict[str, int]:
    engine = sa.create_engine(url)
    q = engine.dialect.identifier_preparer.quote
    try:
        with engine.connect() as con:
            return {
                name: con.exec_driver_sql(f"SELECT COUNT(*) FROM {q(schema)}.{q(name)}").scalar()
                for name in manifest["tables"]
            }
    finally:
        engine.dispose()


def _drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as con:
        if engine.dialect.name == "postgresql":
            con.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS `{schema}`")
    engine.dispose()


@pytest.mark.services
@pytest.mark.parametrize("server", ["mariadb_url", "postgres_url"])
def test_database_format_loads_live_servers(tmp_path, request, server):
    url = request.getfixturevalue(server)
    schema = f"synth_test_{uuid.uuid4().hex[:10]}"
    style = "ohm" if server == "postgres_url" else "medgate"
    try:
        _, manifest = make(
            tmp_path, style=style, people=400, fmt="database", url=url, schema=schema
        )
        assert _database_counts(url, schema, manifest) == {
            n: t["rows"] for n, t in manifest["tables"].items()
        }
        assert manifest["target"]["schema"] == schema and "password" not in json.dumps(manifest)
        if server == "postgres_url":  # PostgreSQL has no zero date: it loads as NULL, counted
            zero = manifest["target"]["zero_dates_loaded_as_null"]
            for table, columns in zero.items():
                for column, n in columns.items():
                    assert n == manifest["dirt"]["sentinels"][table][column]["0000-00-00"]
        with pytest.raises(SynthError, match="already exists"):
            make(tmp_path / "again", style=style, people=50, fmt="database", url=url, schema=schema)
        _, smaller = make(
            tmp_path / "replaced",
            style=style,
            people=50,
            fmt="database",
            url=url,
            schema=schema,
            replace=True,
        )
        assert _database_counts(url, schema, smaller) == smaller_rows(smaller)
    finally:
        _drop_schema(url, schema)


def smaller_rows(manifest: dict) -> dict[str, int]:
    return {n: t["rows"] for n, t in manifest["tables"].items()}


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"style": "epic"}, "unknown style"),
        ({"people": 0}, "people must be"),
        ({"fmt": "xlsx"}, "unknown format"),
        ({"encoding": "latin9"}, "unknown encoding"),
        ({"fmt": "database"}, "needs --url"),
        ({"dirt": Dirt(mdy_dates=0.7, compact_dates=0.5)}, "add up to"),
    ],
)
def test_bad_parameters_are_synth_errors(tmp_path, kwargs, message):
    with pytest.raises(SynthError, match=message):
        generate(**{"people": 20, "out": tmp_path / "x", **kwargs})
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_a_failure_leaves_no_partial_output(tmp_path, monkeypatch):
    module = importlib.import_module("workbench.synth.generate")
    out, _ = make(tmp_path, people=300)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = module.build_chunk

    def failing(plan, index):
        if index == 1:
            raise SynthError("disk full (simulated)")
        return real(plan, index)

    monkeypatch.setattr(module, "build_chunk", failing)
    with pytest.raises(SynthError, match="simulated"):
        generate(people=300, seed=99, out=out, dirt=DIRTY, chunk_size=200)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --- CLI ------------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([WORKBENCH, *args], capture_output=True, text=True, timeout=300)


def test_cli_help_and_json_run(tmp_path):
    shown = run("synth", "--help")
    assert shown.returncode == 0 and "--format" in shown.stdout and "--dirt" in shown.stdout
    result = run(
        "synth",
        "--style",
        "medgate",
        "-n",
        "40",
        "--seed",
        "3",
        "-o",
        str(tmp_path / "m"),
        "--dirt",
        "orphan_fks=0.05",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["style"] == "medgate" and manifest["people"] == 40
    assert manifest["dirt"]["rates"]["orphan_fks"] == 0.05
    for name, info in manifest["tables"].items():
        with (tmp_path / "m" / f"{name}.csv").open(newline="", encoding="utf-8") as f:
            assert sum(1 for _ in csv.reader(f)) - 1 == info["rows"]
    clean = run("synth", "-n", "30", "-o", str(tmp_path / "c"), "--clean", "--json")
    totals = json.loads(clean.stdout)["dirt"]["totals"]
    assert totals["orphan_fks"] == totals["trailing_spaces"] == totals["duplicate_people"] == 0
    bad = run("synth", "-n", "30", "-o", str(tmp_path / "b"), "--dirt", "orphans=0.1")
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 1 and len(lines) == 1 and lines[0].startswith("error:")


# --- memory ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_memory_stays_bounded_as_people_grow(tmp_path):
    """Peak memory for 60,000 people is close to that for 20,000: chunks stream."""
    script = (
        "import resource, sys; from pathlib import Path; from workbench.synth import generate;"
        "generate(people=int(sys.argv[1]), out=Path(sys.argv[2]));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )

    def peak(n: int) -> int:
        done = subprocess.run(
            [sys.executable, "-c", script, str(n), str(tmp_path / str(n))],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return int(done.stdout.strip())

    small, large = peak(20_000), peak(60_000)
    assert large < small * 1.3 + 50_000, (small, large)  # KiB
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


def test_the_cascade_goes_through_any_depth():
    """a <- b <- c: a row of c whose b row points at an orphaned a row cannot load."""

    def spec(name, parent=None):
        cols = [Col("id", "int(11)", "id")]
        if parent:
            cols.append(Col("up", "int(11)", "ref", references=f"{parent}.id"))
        return TableSpec(name, tuple(cols), build=None)

    ledger, bad, referenced = Ledger(), {}, {"a.id", "b.id"}
    a = pl.DataFrame({"id": [1, 2, 3]})
    unloadable(spec("a"), a, np.array([False, True, False]), bad, referenced, ledger)
    b = pl.DataFrame({"id": [10, 11, 12, 13]}).with_columns(up=pl.Series([1, 2, 2, None]))
    unloadable(spec("b", "a"), b, np.array([False, False, True, False]), bad, referenced, ledger)
    c = pl.DataFrame({"id": [20, 21, 22, 23]}).with_columns(up=pl.Series([10, 11, 12, None]))
    unloadable(spec("c", "b"), c, np.zeros(4, dtype=bool), bad, referenced, ledger)
    assert ledger.data["expected"]["unloadable_rows"] == {"a": 1, "b": 2, "c": 2}
    assert ledger.data["expected"]["unloadable_cascaded"] == {"a": 0, "b": 1, "c": 2}
