"""The mysqldump source: dumps read directly, with no MySQL server, checked value by value.

Expected values are written out by hand or computed independently of the code under test
(a plain character-by-character tuple counter, the MariaDB server itself for real dumps).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import FIXTURES, require_tool
from workbench import workspace
from workbench.errors import SourceError
from workbench.snapshot import acquire, open_snapshot
from workbench.snapshot.staging import Staging
from workbench.sources import (
    mysqldump_load,
    mysqldump_reader,
    mysqldump_rows,
    mysqldump_tuples,
    open_source,
)
from workbench.sources.mysqldump import MysqldumpSource

SAKILA = FIXTURES / "sakila"
WORKBENCH = str(Path(sys.executable).parent / "workbench")


# -- helpers ----------------------------------------------------------------------------------


class Loaded:
    """Everything a load left in staging, read back as plain Python values."""

    def __init__(self, staging: Staging):
        con = staging.con
        self.tables = {
            t: con.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in staging.tables()
        }
        self.types = {
            (t, c): ty
            for t, c, ty in con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main'"
            ).fetchall()
        }
        self.declared = {
            (t, c): d
            for t, c, d in con.execute(
                "SELECT table_name, column_name, declared_type FROM _workbench.columns"
            ).fetchall()
        }
        self.rejects = con.execute(
            "SELECT table_name, file, line, reason, raw FROM _workbench.rejects ORDER BY line"
        ).fetchall()
        self.skipped = con.execute(
            "SELECT file, line, kind, name, detail FROM _workbench.skipped ORDER BY file, line"
        ).fetchall()
        self.inputs = dict(
            con.execute(
                "SELECT table_name, sum(records)::BIGINT FROM _workbench.inputs GROUP BY ALL"
            ).fetchall()
        )

    def column(self, table: str, index: int) -> list:
        return [row[index] for row in self.tables[table]]


def load(tmp_path: Path, *dumps: str | bytes, names: list[str] | None = None) -> Loaded:
    paths = []
    for i, dump in enumerate(dumps):
        path = tmp_path / (names[i] if names else f"dump{i}.sql")
        path.write_bytes(dump.encode() if isinstance(dump, str) else dump)
        paths.append(path.name)
    source = MysqldumpSource("t", {"kind": "mysqldump", "path": paths}, tmp_path)
    with Staging.scratch() as staging:
        source.load(staging)
        return Loaded(staging)


def load_error(tmp_path: Path, dump: str | bytes, name: str = "bad.sql") -> str:
    with pytest.raises(SourceError) as caught:
        load(tmp_path, dump, names=[name])
    message = str(caught.value)
    assert "\n" not in message and name in message, message
    return message


def spaced(dump: str) -> str:
    """The same dump written by hand: a space inside a tuple takes a statement off the fast
    path, to the exact parser."""
    return dump.replace("VALUES (", "VALUES\n  ( ")


def count_tuples(text: str) -> Counter:
    """Tuples per table in the INSERT ... VALUES statements of a dump, read character by
    character; a plain, independent reading of MySQL's lexical rules."""
    counts: Counter = Counter()
    i, n, start, table, depth = 0, len(text), 0, None, 0
    while i < n:
        c = text[i]
        if c in "'\"":
            i += 1
            while text[i] != c or text[i + 1 : i + 2] == c:
                i += 2 if text[i] == "\\" or text[i] == c else 1
            i += 1
            continue
        if text.startswith("-- ", i) or text.startswith("--\r", i) or text.startswith("--\n", i):
            i = text.find("\n", i)
            continue
        if text.startswith("/*!", i):  # a version comment's content is SQL
            i += 3
            while text[i].isdigit():
                i += 1
            continue
        if text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        if text.startswith("*/", i):
            i += 2
            continue
        if c == ";":
            table, depth, start = None, 0, i + 1
        elif table is None and text[i : i + 6].upper() == "VALUES" and not text[i - 1].isalnum():
            head = re.match(
                r"\s*(?:INSERT|REPLACE)\b.*?INTO\s+`?(\w+)`?", text[start:i], re.I | re.S
            )
            table = head.group(1) if head else None
        elif table is not None and c == "(":
            counts[table] += depth == 0
            depth += 1
        elif table is not None and c == ")":
            depth -= 1
        i += 1
    return counts


# -- Sakila: a real, hand-maintained dump ---------------------------------------------------


@pytest.fixture(scope="module")
def sakila_counts() -> Counter:
    return count_tuples((SAKILA / "sakila-mv-data.sql").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sakila_ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sakila") / "ws"
    workspace.init(root, name="sakila-clinic")
    shutil.copytree(SAKILA, root / "data")
    with (root / "workbench.toml").open("a") as f:
        f.write(
            '\n[sources.sakila]\nkind = "mysqldump"\n'
            'path = ["data/sakila-mv-schema.sql", "data/sakila-mv-data.sql"]\n'
        )
    return root


@pytest.fixture(scope="module")
def sakila_snapshot(sakila_ws):
    wsp = workspace.load(sakila_ws)
    return acquire(open_source(wsp, "sakila"), wsp.snapshots_dir, "s1")


def test_sakila_row_counts_match_an_independent_count(sakila_snapshot, sakila_counts):
    manifest = sakila_snapshot.manifest
    assert sum(sakila_counts.values()) == 46_273
    assert manifest.rows == 46_273 and manifest.rejected == 0
    tables = {t.name: t for t in manifest.tables}
    assert set(tables) == set(sakila_counts) | {"film_text"}
    for name, expected in sakila_counts.items():
        assert tables[name].rows == expected == tables[name].input_records, name
    assert tables["film_text"].rows == 0  # no INSERTs: staged empty, with its columns
    assert [c.name for c in tables["film_text"].columns] == ["film_id", "title", "description"]


def test_sakila_values_and_types(sakila_snapshot):
    with open_snapshot(sakila_snapshot.path.parent, "s1").connect() as con:
        assert con.execute("SELECT * FROM actor WHERE actor_id = 1").fetchone() == (
            1, "PENELOPE", "GUINESS", dt.datetime(2006, 2, 15, 4, 34, 33),
        )  # fmt: skip
        amount = con.execute("SELECT sum(amount), min(amount) FROM payment").fetchone()
        assert amount == (Decimal("67416.51"), Decimal("0.00"))
        # The geometry comes from a version comment inside VALUES: /*!50705 0x...,*/
        location = con.execute("SELECT location FROM address WHERE address_id = 1").fetchone()[0]
        assert location.hex().upper() == "0000000001010000003E0A325D63345CC0761FDB8D99D94840"
        picture = con.execute("SELECT picture FROM staff WHERE staff_id = 1").fetchone()[0]
        assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) == 36365
        features = con.execute("SELECT special_features FROM film WHERE film_id = 1").fetchone()
        assert features == ("Deleted Scenes,Behind the Scenes",)
    columns = {c.name: c for c in sakila_snapshot.manifest.table("payment").columns}
    assert (columns["amount"].type, columns["amount"].declared_type) == (
        "DECIMAL(5,2)", "DECIMAL(5,2)",
    )  # fmt: skip
    assert (columns["payment_id"].type, columns["payment_id"].declared_type) == (
        "USMALLINT", "SMALLINT UNSIGNED",
    )  # fmt: skip
    assert columns["payment_date"].type == "TIMESTAMP"


def test_sakila_skips_are_reported(sakila_snapshot):
    skipped = {(s["kind"], s["name"]) for s in sakila_snapshot.manifest.skipped}
    assert skipped == {
        ("trigger", "ins_film"), ("trigger", "upd_film"), ("trigger", "del_film"),
        ("trigger", "customer_create_date"), ("trigger", "payment_date"),
        ("trigger", "rental_date"),
        ("view", "customer_list"), ("view", "film_list"),
        ("view", "nicer_but_slower_film_list"), ("view", "staff_list"),
        ("view", "sales_by_store"), ("view", "sales_by_film_category"), ("view", "actor_info"),
        ("procedure", "rewards_report"), ("procedure", "film_in_stock"),
        ("procedure", "film_not_in_stock"), ("function", "get_customer_balance"),
        ("function", "inventory_held_by_customer"), ("function", "inventory_in_stock"),
        ("alter table", "film_text"),
    }  # fmt: skip
    by_name = {s["name"]: s for s in sakila_snapshot.manifest.skipped}
    # The trigger inside the schema's DELIMITER ;; block, on the line it starts.
    assert by_name["ins_film"]["file"] == "data/sakila-mv-schema.sql"
    assert by_name["ins_film"]["line"] == 190
    assert by_name["rewards_report"]["line"] == 453


def test_sakila_probe_counts_exactly(sakila_ws, sakila_counts):
    probe = open_source(workspace.load(sakila_ws), "sakila").probe()
    assert probe.reachable and probe.rows == 46_273
    assert {t.name: t.rows for t in probe.tables if t.rows} == dict(sakila_counts)


def test_sakila_through_the_cli(sakila_ws):
    result = subprocess.run(
        [WORKBENCH, "acquire", "sakila", "--snapshot", "cli", "-w", str(sakila_ws), "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["created"] and out["rows"] == 46_273 and out["rejected"] == 0
    assert len(out["tables"]) == 16
    assert [i["path"] for i in out["inputs"]] == [
        "data/sakila-mv-schema.sql", "data/sakila-mv-data.sql",
    ]  # fmt: skip


# -- values, on the fast path and on the exact parser ----------------------------------------

ESCAPES = (
    "CREATE TABLE `t` (`id` int NOT NULL, `s` varchar(50));\n"
    r"INSERT INTO `t` VALUES (1,'a\'b'),(2,'c\\d'),(3,'l1\nl2'),(4,'r\rt\t'),(5,'nul\0z'),"
    r"""(6,'ctrl\Z'),(7,'dq\"'),(8,'it''s'),(9,'\%\_'),(10,'\x'),(11,'\\\''),(12,''),"""
    r"(13,'x\\');"
    "\n"
)
ESCAPED = [
    "a'b", "c\\d", "l1\nl2", "r\rt\t", "nul\x00z", "ctrl\x1a", 'dq"', "it's", "\\%\\_", "x",
    "\\'", "", "x\\",
]  # fmt: skip


@pytest.fixture
def exact(monkeypatch) -> list:
    """The tuples that went through the exact parser rather than the fast path."""
    seen: list = []

    def spy(reader, layout):
        for parsed in mysqldump_tuples.parse_rows(reader, layout):
            seen.append(parsed)
            yield parsed

    monkeypatch.setattr(mysqldump_load, "parse_rows", spy)
    return seen


@pytest.mark.parametrize("form", ["mysqldump", "by hand"])
def test_string_escapes(tmp_path, form, exact):
    got = load(tmp_path, ESCAPES if form == "mysqldump" else spaced(ESCAPES))
    assert got.column("t", 1) == ESCAPED
    assert got.rejects == [] and got.inputs == {"t": 13}
    assert len(exact) == (0 if form == "mysqldump" else 13)


@pytest.mark.parametrize("form", ["mysqldump", "by hand"])
def test_null_is_not_the_string_null(tmp_path, form):
    dump = (
        "CREATE TABLE t (id int, s varchar(9));\n"
        "INSERT INTO t VALUES (1,NULL),(2,'NULL'),(3,''),(4,'null'),(5,'N');\n"
    )
    got = load(tmp_path, dump if form == "mysqldump" else spaced(dump))
    assert got.column("t", 1) == [None, "NULL", "", "null", "N"]


@pytest.mark.parametrize("form", ["mysqldump", "by hand"])
def test_strings_holding_tuple_separators_semicolons_and_newlines(tmp_path, form):
    dump = (
        "CREATE TABLE t (id int, s text);\n"
        "INSERT INTO t VALUES (1,'a),(b'),(2,'x;\ny'),(3,');\n('),(4,'\\'),(\\''),(5,'é ü 中');\n"
        "INSERT INTO t VALUES (6,'after');\n"
    )
    got = load(tmp_path, dump if form == "mysqldump" else spaced(dump))
    assert got.column("t", 1) == ["a),(b", "x;\ny", ");\n(", "'),('", "é ü 中", "after"]


def test_binary_hex_and_bit_literals(tmp_path):
    dump = (
        "CREATE TABLE b (id int, v varbinary(10), t varchar(10), f bit(8));\n"
        "INSERT INTO b VALUES (1,0x414243,'x',b'101'),(2,X'00ff','y',b'0'),"
        "(3,_binary 'ab\\0\xff','z',NULL),(4,NULL,0x41,b'11111111'),(5,'raw',NULL,NULL);\n"
    ).encode("latin-1")
    got = load(tmp_path, dump)
    assert got.column("b", 1) == [b"ABC", b"\x00\xff", b"ab\x00\xff", None, b"raw"]
    assert got.column("b", 2) == ["x", "y", "z", "0x41", None]  # hex in a text column: as written
    assert got.column("b", 3) == [5, 0, None, 255, None]
    assert got.types[("b", "v")] == "BLOB" and got.types[("b", "f")] == "UBIGINT"


def test_version_comments_inside_values_and_around_statements(tmp_path):
    dump = (
        "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
        "/*!40101 SET NAMES utf8mb4 */;\n"
        "CREATE TABLE `g` (\n  `id` int,\n  /*!50705 `loc` geometry NOT NULL,*/\n"
        "  `at` date\n) ENGINE=InnoDB;\n"
        "INSERT INTO `g` VALUES (1,/*!50705 0x0102,*/'2020-01-31'),"
        "(2,/*!50705 0xFF,*/'2020-02-29');\n"
        "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`%` */\n"
        "/*!50001 VIEW `v` AS select 1 AS `x` */;\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["g"] == [
        (1, b"\x01\x02", dt.date(2020, 1, 31)),
        (2, b"\xff", dt.date(2020, 2, 29)),
    ]
    assert [(s[1], s[2], s[3]) for s in got.skipped] == [(9, "view", "v")]


def test_crlf_dump(tmp_path):
    dump = (
        "-- a dump written on Windows\r\n"
        "CREATE TABLE t (\r\n  id int,\r\n  s varchar(20),\r\n  d datetime\r\n);\r\n"
        "INSERT INTO t VALUES (1,'one','2006-02-15 04:34:33'),\r\n"
        "(2,'two\\r\\n','2006-02-15 04:34:34');\r\n"
        "LOCK TABLES t WRITE;\r\nUNLOCK TABLES;\r\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["t"] == [
        (1, "one", dt.datetime(2006, 2, 15, 4, 34, 33)),
        (2, "two\r\n", dt.datetime(2006, 2, 15, 4, 34, 34)),
    ]
    assert got.skipped == [] and got.rejects == []


def test_column_types_fit_or_stay_text(tmp_path):
    dump = (
        "CREATE TABLE ty (id int(10) unsigned, d date, z date, m decimal(5,2), "
        "ts datetime(6), f double, h time, y year, e enum('a','b'), lead int, big bigint);\n"
        "INSERT INTO ty VALUES (1,'2020-01-02','0000-00-00',1.50,'2020-01-02 03:04:05.120000',"
        "1e20,'838:59:59',2006,'a','007',-9223372036854775808),"
        "(2,NULL,'2020-01-01',-999.99,'1999-12-31 23:59:59.000001',-0.5,'10:00:00',1901,'b',"
        "'12',9223372036854775807);\n"
    )
    got = load(tmp_path, dump)
    types = {c: got.types[("ty", c)] for _, c in got.types if _ == "ty"}
    assert types == {
        "id": "UINTEGER", "d": "DATE", "z": "VARCHAR", "m": "DECIMAL(5,2)", "ts": "TIMESTAMP",
        "f": "DOUBLE", "h": "VARCHAR", "y": "SMALLINT", "e": "VARCHAR", "lead": "VARCHAR",
        "big": "BIGINT",
    }  # fmt: skip
    assert got.tables["ty"][0] == (
        1, dt.date(2020, 1, 2), "0000-00-00", Decimal("1.50"),
        dt.datetime(2020, 1, 2, 3, 4, 5, 120000), 1e20, "838:59:59", 2006, "a", "007",
        -9223372036854775808,
    )  # fmt: skip
    assert got.declared[("ty", "id")] == "int(10) unsigned"
    assert got.declared[("ty", "ts")] == "datetime(6)"
    assert got.declared[("ty", "e")] == "enum('a','b')"


def test_column_lists_ignore_replace_and_empty_tables(tmp_path):
    dump = (
        "CREATE TABLE t (a int, b varchar(5), c int);\n"
        "CREATE TABLE never (x int, y text);\n"
        "INSERT IGNORE INTO t (b, a) VALUES ('x',1),('y',2);\n"
        "REPLACE INTO `t` VALUES (3,'z',30);\n"
        "INSERT INTO t(`c`) VALUES (40);\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["t"] == [(1, "x", None), (2, "y", None), (3, "z", 30), (None, None, 40)]
    assert got.tables["never"] == [] and got.types[("never", "y")] == "VARCHAR"
    assert got.inputs == {"t": 4, "never": 0}


def test_routines_triggers_events_and_delimiters_are_skipped(tmp_path):
    dump = (
        "CREATE TABLE t (a int);\n"
        "DELIMITER ;;\n"
        "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER trg "
        "BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; INSERT INTO t VALUES (9); END */;;\n"
        "DELIMITER ;\n"
        "DELIMITER $$\n"
        "CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN SELECT 1; END$$\n"
        "CREATE FUNCTION f() RETURNS int RETURN 1$$\n"
        "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO DELETE FROM t$$\n"
        "DELIMITER ;\n"
        "INSERT INTO t VALUES (1);\n"
        "DELETE FROM t;\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["t"] == [(1,)]  # the INSERT inside the trigger is no row
    assert [(s[1], s[2], s[3]) for s in got.skipped] == [
        (3, "trigger", "trg"), (6, "procedure", "p"), (7, "function", "f"), (8, "event", "ev"),
        (11, "delete", ""),
    ]  # fmt: skip


def test_a_long_statement_is_read_in_pieces(tmp_path, monkeypatch):
    rows = ",".join(
        f"({i},'v{i}),(x\\'{i}',{'NULL' if i % 7 == 0 else i * 3})" for i in range(3000)
    )
    dump = f"CREATE TABLE t (id int, s text, n int);\nINSERT INTO t VALUES {rows};\n"
    (tmp_path / "whole").mkdir()
    (tmp_path / "pieces").mkdir()
    whole = load(tmp_path / "whole", dump)
    monkeypatch.setattr(mysqldump_rows, "WINDOW", 256)
    monkeypatch.setattr(mysqldump_rows, "MAX_WINDOW", 1024)
    monkeypatch.setattr(mysqldump_reader, "BLOCK", 100)
    pieces = load(tmp_path / "pieces", dump)
    assert pieces.tables == whole.tables and len(whole.tables["t"]) == 3000
    assert whole.tables["t"][7] == (7, "v7),(x'7", None)
    assert pieces.rejects == [] and pieces.inputs == {"t": 3000}


def test_raw_bytes_in_binary_and_bit_columns_take_the_fast_path(tmp_path, exact):
    # MariaDB's mysqldump writes BLOB and BIT values as strings of raw bytes.
    dump = (
        b"CREATE TABLE r (id int, v varbinary(8), flag bit(1), t varchar(9));\n"
        b"INSERT INTO r VALUES (1,'\xff\\0\\'''\\\\x','\x01','a'),(2,'','\\0','b'),"
        b"(3,NULL,NULL,'\xc3\xa9'),(4,'),(\\n','\x01','c');\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["r"] == [
        (1, b"\xff\x00''\\x", 1, "a"), (2, b"", 0, "b"), (3, None, None, "é"),
        (4, b"),(\n", 1, "c"),
    ]  # fmt: skip
    assert got.types[("r", "v")] == "BLOB" and got.types[("r", "flag")] == "UBIGINT"
    assert exact == []


def test_mysql8_binary_introducer(tmp_path, exact):
    dump = (
        "CREATE TABLE u (id int, k binary(2), note text);\n"
        "INSERT INTO u VALUES (1,_binary '\\0\\n','plain'),(2,_binary 'ab','x _binary ''y');\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["u"] == [(1, b"\x00\n", "plain"), (2, b"ab", "x _binary 'y")]
    assert len(exact) == 2  # "_binary '" inside a string: that statement is read exactly
    exact.clear()
    (tmp_path / "again").mkdir()
    got = load(tmp_path / "again", dump.replace("'x _binary ''y'", "'y'"))
    assert got.tables["u"][1] == (2, b"ab", "y") and exact == []


def test_one_row_per_statement_is_read_in_batches(tmp_path, exact):
    # mysqldump --skip-extended-insert: one INSERT per row, and a bad row among them.
    lines = [f"INSERT INTO `t` VALUES ({i},'r{i};\\n');" for i in range(1, 2001)]
    dump = "CREATE TABLE `t` (id int, s text);\n" + "\n".join(lines) + "\n"
    got = load(tmp_path, dump)
    assert got.tables["t"][0] == (1, "r1;\n") and len(got.tables["t"]) == 2000
    assert exact == []
    lines[1499] = "INSERT INTO `t` VALUES (1500,'bad\xff');"
    dump = "CREATE TABLE `t` (id int, s text);\n" + "\n".join(lines) + "\n"
    (tmp_path / "bad").mkdir()
    got = load(tmp_path / "bad", dump.encode("latin-1"))
    assert got.column("t", 0) == [i for i in range(1, 2001) if i != 1500]
    assert [(r[2], r[3]) for r in got.rejects] == [(1501, "value 2 is not valid utf-8 text")]
    assert got.inputs == {"t": 2000}


def test_statements_sharing_a_line_and_a_utf8_bom(tmp_path):
    dump = (
        "\ufeffCREATE TABLE t (a int);INSERT INTO t VALUES (1);INSERT INTO t VALUES (2),(3);\n"
        "INSERT INTO t VALUES (4); -- four\n"
    )
    got = load(tmp_path, dump)
    assert got.column("t", 0) == [1, 2, 3, 4] and got.skipped == []


@pytest.mark.parametrize("form", ["mysqldump", "by hand"])
def test_latin1_dumps_are_read_as_set_names_says(tmp_path, form):
    dump = (
        "/*!40101 SET NAMES latin1 */;\n"
        "CREATE TABLE `pé` (id int, s varchar(9), b blob);\n"
        "INSERT INTO `pé` VALUES (1,'Zoë €','€'),(2,'naïve','ÿ');\n"  # blob bytes 80, ff
    )
    got = load(tmp_path, (dump if form == "mysqldump" else spaced(dump)).encode("cp1252"))
    assert got.tables["pé"] == [(1, "Zoë €", b"\x80"), (2, "naïve", b"\xff")]


def test_the_configured_encoding_wins_and_unreadable_ones_are_refused(tmp_path):
    dump = "SET NAMES utf8;\nCREATE TABLE t (s text);\nINSERT INTO t VALUES ('Müller');\n"
    (tmp_path / "d.sql").write_bytes(dump.encode("cp1252"))  # mislabelled, as it happens
    source = MysqldumpSource("t", {"path": "d.sql", "encoding": "cp1252"}, tmp_path)
    with Staging.scratch() as staging:
        source.load(staging)
        assert Loaded(staging).tables == {"t": [("Müller",)]}
    sjis = "SET NAMES sjis;\nCREATE TABLE t (s text);\n"
    assert "character set sjis" in load_error(tmp_path, sjis, "sjis.sql")


def test_a_folder_of_dumps_gzipped_or_not(tmp_path):
    folder = tmp_path / "dump"
    folder.mkdir()
    (folder / "01-schema.sql").write_text("CREATE TABLE t (a int, b varchar(3));\n")
    (folder / "02-data.sql.gz").write_bytes(gzip.compress(b"INSERT INTO t VALUES (1,'x');\n"))
    (folder / "notes.txt").write_text("not a dump")
    source = MysqldumpSource("t", {"kind": "mysqldump", "path": "dump"}, tmp_path)
    assert [p.name for p in source.input_files()] == ["01-schema.sql", "02-data.sql.gz"]
    with Staging.scratch() as staging:
        source.load(staging)
        assert Loaded(staging).tables == {"t": [(1, "x")]}
        inputs = staging.con.execute("SELECT file, records FROM _workbench.inputs").fetchall()
    assert inputs == [("dump/02-data.sql.gz", 1)]


# -- input that is not right -----------------------------------------------------------------


def test_wrong_field_counts_and_garbage_are_rejected_with_their_line(tmp_path):
    dump = (
        "CREATE TABLE t (id int, s varchar(9));\n"
        "INSERT INTO t VALUES (1,'a'),\n(2),\n(3,'c','extra'),\n(4,now()),\n(5,'e'),\n"
        "(6,),\n(7,(8),'g'),\n(9,'i');\n"
        "INSERT INTO t VALUES (10,'j') ON DUPLICATE KEY UPDATE s = 'k';\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["t"] == [(1, "a"), (5, "e"), (9, "i"), (10, "j")]
    assert [(r[2], r[3], r[4]) for r in got.rejects] == [
        (3, "1 values where 2 are expected", "(2)"),
        (4, "3 values where 2 are expected", "(3,'c','extra')"),
        (5, "unsupported value 'now'", "(4,now())"),
        (7, "unsupported value ')'", "(6,)"),
        (8, "unsupported value '('", "(7,(8),'g')"),
        (10, "unexpected 'ON' after a tuple", "ON DUPLICATE KEY UPDATE s = 'k'"),
    ]
    assert got.inputs == {"t": 10}  # rows + rejects == tuples (and stray clauses) read


def test_truncated_dump(tmp_path):
    full = (
        "CREATE TABLE t (id int, s varchar(9));\n"
        "INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c');\n"
        "INSERT INTO t VALUES (4,'d'),\n(5,'e'),\n(6,'ff"
    )
    got = load(tmp_path, full)
    assert got.column("t", 0) == [1, 2, 3, 4, 5]
    assert len(got.rejects) == 1
    table, file, line, reason, raw = got.rejects[0]
    assert (table, file, line, raw) == ("t", "dump0.sql", 5, "(6,'ff")
    assert reason == "unterminated string: the file ends inside it"
    assert got.inputs == {"t": 6}


def test_truncated_inside_create_table(tmp_path):
    message = load_error(tmp_path, "CREATE TABLE t (id int,\n  s varchar(9")
    assert "line 1" in message and "CREATE TABLE" in message


def test_invalid_utf8_is_rejected_on_both_paths(tmp_path):
    dump = (
        b"CREATE TABLE t (id int, s varchar(9), b blob);\n"
        b"INSERT INTO t VALUES (1,'ok',NULL),\n(2,'bad\xff',NULL),\n(3,'fine',NULL);\n"
        b"INSERT INTO t VALUES (4, 'sp\xe9cial', 'raw\xff');\n"
    )
    got = load(tmp_path, dump)
    assert got.tables["t"] == [(1, "ok", None), (3, "fine", None)]
    assert [(r[2], r[3], r[4]) for r in got.rejects] == [
        (3, "value 2 is not valid utf-8 text", "(2,'bad\\xff',NULL)"),
        (5, "value 2 is not valid utf-8 text", "(4, 'sp\\xe9cial', 'raw\\xff')"),
    ]
    assert got.inputs == {"t": 4}


def test_rejects_balance_in_a_snapshot(workspace_dir):
    (workspace_dir / "bad.sql").write_text(
        "CREATE TABLE t (id int, s varchar(9));\nINSERT INTO t VALUES (1,'a'),(2),(3,'c');\n"
    )
    with (workspace_dir / "workbench.toml").open("a") as f:
        f.write('\n[sources.x]\nkind = "mysqldump"\npath = "bad.sql"\n')
    wsp = workspace.load(workspace_dir)
    table = acquire(open_source(wsp, "x"), wsp.snapshots_dir, "s").manifest.table("t")
    assert (table.rows, table.rejected, table.input_records) == (2, 1, 3)


def test_files_that_are_not_dumps_are_refused_in_one_line(tmp_path):
    assert "binary" in load_error(tmp_path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(300))
    utf16 = "CREATE TABLE t (a int);\n".encode("utf-16")
    assert "UTF-16" in load_error(tmp_path, utf16, "powershell.sql")
    assert "no SQL statements" in load_error(tmp_path, "id,name\n1,Ann\n2,Bo\n", "people.sql")
    assert "no SQL statements" in load_error(tmp_path, "-- only a comment\n", "empty.sql")


def test_rows_before_their_table_are_refused(tmp_path):
    message = load_error(tmp_path, "SET NAMES utf8;\n\nINSERT INTO t VALUES (1);\n")
    assert "line 3" in message and "CREATE TABLE `t`" in message


# -- a dump written by the real mysqldump, checked against the server ------------------------

TRICKY_TABLE = """CREATE TABLE tricky (
  id INT PRIMARY KEY, s VARCHAR(100), n DECIMAL(12,3), d DATE, t DATETIME(6), b BLOB,
  f DOUBLE, k BIT(5), j TEXT
)"""
TRICKY_ROWS = [
    (1, "plain", Decimal("1.500"), dt.date(2020, 1, 2), dt.datetime(2020, 1, 2, 3, 4, 5, 120000),
     bytes(range(256)), 1e20, 5, "NULL"),
    (2, "it's \"q\" \\ back\nslash),(;\r\n\t\x00\x1a", Decimal("-0.001"), None, None, b"",
     -0.5, 0, None),
    (3, "Zoë 中文 🙂", None, dt.date(1999, 12, 31), dt.datetime(1999, 12, 31, 23, 59, 59),
     None, None, None, ""),
]  # fmt: skip


@pytest.fixture
def tricky_database(mariadb_url):
    name = f"wb_dump_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(mariadb_url)
    with server.begin() as con:
        con.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    engine = sa.create_engine(mariadb_url.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4")
    try:
        with engine.begin() as con:
            con.execute(sa.text(TRICKY_TABLE))
            con.execute(sa.text("SET SESSION sql_mode = ''"))
            con.execute(
                sa.text("INSERT INTO tricky VALUES (:a,:b,:c,:d,:e,:f,:g,:h,:i)"),
                [dict(zip("abcdefghi", row, strict=True)) for row in TRICKY_ROWS],
            )
        yield name, engine
    finally:
        engine.dispose()
        with server.begin() as con:
            con.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


@pytest.mark.services
@pytest.mark.parametrize(
    "options", [[], ["--hex-blob"], ["--skip-extended-insert", "--complete-insert"]]
)
def test_real_mysqldump_output_matches_the_server(tmp_path, tricky_database, options):
    name, engine = tricky_database
    tool = require_tool("mysqldump")
    url = engine.url
    dump = tmp_path / "tricky.sql"
    with dump.open("wb") as out:
        subprocess.run(
            [tool, "-h", url.host, "-P", str(url.port or 3306), "-u", url.username, *options,
             "--default-character-set=utf8mb4", name],
            stdout=out, check=True, timeout=60,
        )  # fmt: skip
    with engine.connect() as con:
        expected = [tuple(r) for r in con.execute(sa.text("SELECT * FROM tricky ORDER BY id"))]
    got = load(tmp_path, dump.read_bytes())
    rows = [
        (*r[:7], int.from_bytes(r[7], "big") if isinstance(r[7], bytes) else r[7], r[8])
        for r in expected
    ]  # pymysql reads BIT as bytes
    assert got.tables["tricky"] == rows
    assert got.rejects == [] and got.inputs == {"tricky": 3}
    assert got.types[("tricky", "b")] == "BLOB" and got.types[("tricky", "t")] == "TIMESTAMP"
