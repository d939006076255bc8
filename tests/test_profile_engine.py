"""The profiling engine against independent truth: plain SQL over the snapshot, the CSV files
read with the csv module, Sakila's declared foreign keys, and the synthetic clinic's manifest.

Expected values are computed here, in the test, never by the code under test.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES
from workbench import workspace
from workbench.profile.engine import profile_snapshot
from workbench.profile.model import PrivacyPolicy, Profile
from workbench.profile.patterns import pattern_of, pattern_sql, register, shown_sql
from workbench.profile.store import SCHEMA_PATH, read_profile, to_json, write_profile
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import from_config
from workbench.synth import generate

SHOW_ALL = PrivacyPolicy(min_cell_count=0, show_identifiers=True)
# The documented sentinel nulls (docs/profile-json.md), restated: case-insensitive after trim.
SENTINELS = ("NULL", "N/A", "NA", "#N/A", "NONE", "UNKNOWN", "-", "?", "0000-00-00",
             "0000-00-00 00:00:00")  # fmt: skip
NUMBER = r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")


# -- snapshots -----------------------------------------------------------------------------


def take(tmp: Path, name: str, config: dict):
    ws = workspace.init(tmp / "ws")
    return open_snapshot(
        ws.snapshots_dir, acquire(from_config(name, config, ws), ws.snapshots_dir, name).path.name
    )


@pytest.fixture(scope="module")
def sakila(tmp_path_factory):
    paths = [str(FIXTURES / "sakila" / f) for f in ("sakila-mv-schema.sql", "sakila-mv-data.sql")]
    snap = take(tmp_path_factory.mktemp("sakila"), "sakila", {"kind": "mysqldump", "path": paths})
    return snap, profile_snapshot(snap, SHOW_ALL)


@pytest.fixture(scope="module")
def synthea(tmp_path_factory):
    path = str(FIXTURES / "synthea27")
    snap = take(tmp_path_factory.mktemp("synthea"), "synthea", {"kind": "csv", "path": path})
    return snap, profile_snapshot(snap, SHOW_ALL)


def clinic(tmp: Path, style: str, fmt: str):
    truth = generate(style=style, people=1000, seed=5, fmt=fmt, out=tmp / "data")
    path = tmp / "data" / f"{style}.sql" if fmt == "mysqldump" else tmp / "data"
    return truth, take(tmp, style, {"kind": fmt, "path": str(path)})


@pytest.fixture(scope="module")
def ohm(tmp_path_factory):
    truth, snap = clinic(tmp_path_factory.mktemp("ohm"), "ohm", "csv")
    return truth, snap, profile_snapshot(snap, SHOW_ALL), profile_snapshot(snap)


@pytest.fixture(scope="module")
def medgate(tmp_path_factory):
    truth, snap = clinic(tmp_path_factory.mktemp("medgate"), "medgate", "mysqldump")
    return truth, snap, profile_snapshot(snap, SHOW_ALL)


# -- plain SQL truth -----------------------------------------------------------------------


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_truth(con, table: str, column: str, storage: str) -> dict:
    """Counts and extremes of one column, by the documented definitions, in plain SQL."""
    c, t = q(column), q(table)
    text = storage == "VARCHAR"
    sentinels = ", ".join(f"'{s}'" for s in SENTINELS)
    blank = f"regexp_full_match({c}, ' *')" if text else "false"
    sentinel = f"upper(trim({c})) IN ({sentinels})" if text else "false"
    value = f"{c} IS NOT NULL AND NOT {blank} AND NOT {sentinel}"
    rows, nulls, blanks, non_empty, distinct = con.execute(
        f"SELECT count(*), count(*) FILTER ({c} IS NULL), count(*) FILTER ({blank}), "
        f"count(*) FILTER ({value}), count(DISTINCT {c}) FILTER ({value}) FROM {t}"
    ).fetchone()
    truth = {"n_rows": rows, "n_null": nulls, "n_blank": blanks, "n_non_empty": non_empty}
    truth["n_distinct"] = distinct
    if text:
        truth["sentinels"] = dict(
            con.execute(
                f"SELECT upper(trim({c})), count(*) FROM {t} WHERE {sentinel} GROUP BY 1"
            ).fetchall()
        )
    numeric = storage.startswith((*NUMERIC_TYPES, "DECIMAL", "U"))
    if text and non_empty:
        numbers = con.execute(
            f"SELECT count(*) FROM {t} WHERE {value} AND regexp_full_match(trim({c}), ?)", [NUMBER]
        ).fetchone()[0]
        numeric = numbers == non_empty
    truth["numeric"] = numeric and non_empty > 0
    if storage == "BLOB" or not non_empty:
        truth["min"] = truth["max"] = None
    elif truth["numeric"]:
        x = f"CAST(trim(CAST({c} AS VARCHAR)) AS DOUBLE)"
        truth.update(
            zip(
                ("min", "max", "mean", "std", "q25", "median", "q75"),
                con.execute(
                    f"SELECT min({x}), max({x}), avg({x}), stddev_samp({x}), "
                    f"quantile_cont({x}, 0.25), quantile_cont({x}, 0.5), quantile_cont({x}, 0.75) "
                    f"FROM {t} WHERE {value}"
                ).fetchone(),
                strict=True,
            )
        )
    else:
        truth["min"], truth["max"] = con.execute(
            f"SELECT CAST(min({c}) AS VARCHAR), CAST(max({c}) AS VARCHAR) FROM {t} WHERE {value}"
        ).fetchone()
    return truth


def assert_column_equals_sql(con, col, truth):
    where = f"{col.table}.{col.name}"
    for key in ("n_rows", "n_null", "n_blank", "n_non_empty", "n_distinct"):
        assert getattr(col, key) == truth[key], (where, key)
    assert col.sentinels == truth.get("sentinels", {}), where
    if truth["numeric"]:
        for key in ("min", "max"):
            assert float(getattr(col, key)) == truth[key], (where, key)
        for key in ("mean", "std", "q25", "median", "q75"):
            expected, got = truth[key], getattr(col, key)
            if expected is None:
                assert got is None, (where, key)
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), (where, key)
    else:
        assert (col.min, col.max) == (truth["min"], truth["max"]), where


@pytest.mark.parametrize("dataset", ["sakila", "synthea"])
def test_every_column_equals_plain_sql(dataset, request):
    snap, profile = request.getfixturevalue(dataset)
    with snap.connect() as con:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        assert sorted(t.name for t in profile.tables) == sorted(tables)
        checked = 0
        for table in profile.tables:
            assert (
                table.n_rows == con.execute(f"SELECT count(*) FROM {q(table.name)}").fetchone()[0]
            )
            storage = dict(
                con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'main' AND table_name = ?",
                    [table.name],
                ).fetchall()
            )
            assert [c.name for c in table.columns] == list(storage)
            for col in table.columns:
                truth = sql_truth(con, table.name, col.name, storage[col.name])
                assert_column_equals_sql(con, col, truth)
                checked += 1
    assert checked == sum(t.n_columns for t in profile.tables) > 80


def test_synthea_counts_equal_the_csv_files_read_with_the_csv_module(synthea):
    _, profile = synthea
    for path in sorted((FIXTURES / "synthea27").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        header, records = rows[0], rows[1:]
        table = profile.table(path.stem)
        assert table.n_rows == len(records), path.name
        for i, name in enumerate(header):
            col = table.column(name)
            cells = [r[i] for r in records]
            values = [v for v in cells if v.strip(" ") and v.strip(" ").upper() not in SENTINELS]
            assert col.n_null == cells.count(""), (path.name, name)  # empty fields are NULL
            assert col.n_non_empty == len(values), (path.name, name)
            assert col.n_distinct == len(set(values)), (path.name, name)
            if not values:
                continue
            if all(re.fullmatch(NUMBER, v.strip()) for v in values):
                numbers = [float(v) for v in values]
                assert float(col.min) == min(numbers) and float(col.max) == max(numbers), name
            else:
                assert (col.min, col.max) == (min(values), max(values)), (path.name, name)


def test_candidate_keys_and_types_read_as_people_expect(sakila, synthea, ohm):
    _, s = sakila
    assert s.table("rental").candidate_keys == [["rental_id"]]
    assert ["actor_id", "film_id"] in s.table("film_actor").candidate_keys
    types = {
        ("film", "rental_rate"): "decimal",
        ("film", "rating"): "code",
        ("rental", "rental_date"): "datetime",
        ("customer", "active"): "boolean",
        ("rental", "customer_id"): "identifier",
        ("film", "length"): "integer",
        ("film", "description"): "free_text",
        ("film", "original_language_id"): "empty",
    }
    for (table, column), expected in types.items():
        assert s.table(table).column(column).inferred_type == expected, (table, column)
    assert s.table("film").column("original_language_id").n_null == 1000
    assert "original_language_id" in s.table("film").empty_columns
    _, y = synthea
    assert y.table("patients").column("Id").inferred_type == "identifier"
    assert y.table("patients").column("BIRTHDATE").inferred_type == "date"
    assert y.table("encounters").column("START").date_formats == {
        "YYYY-MM-DDTHH:MM:SSZ": y.table("encounters").n_rows
    }
    _, _, o, _ = ohm
    assert o.table("demographics").column("DOB").inferred_type == "date"
    assert o.table("vitals").column("BMI").inferred_type == "decimal"


# -- references between tables --------------------------------------------------------------


def declared_foreign_keys() -> set[tuple[str, str, str, str]]:
    """Sakila's FOREIGN KEY constraints, read from its schema file."""
    keys, table = set(), None
    for line in (FIXTURES / "sakila" / "sakila-mv-schema.sql").read_text().splitlines():
        if m := re.match(r"CREATE TABLE `?(\w+)`?", line):
            table = m.group(1)
        if m := re.search(r"FOREIGN KEY \((\w+)\) REFERENCES `?(\w+)`? \((\w+)\)", line):
            keys.add((table, m.group(1), m.group(2), m.group(3)))
    return keys


def test_rental_customer_reference_with_its_coverage(sakila):
    snap, profile = sakila
    rel = next(
        r
        for r in profile.relationships
        if (r.child_table, r.child_column, r.parent_table, r.parent_column)
        == ("rental", "customer_id", "customer", "customer_id")
    )
    with snap.connect() as con:
        found, values, rows, orphans = con.execute(
            "SELECT count(DISTINCT r.customer_id) FILTER (c.customer_id IS NOT NULL), "
            "count(DISTINCT r.customer_id), count(*), count(*) FILTER (c.customer_id IS NULL) "
            "FROM rental r LEFT JOIN customer c ON r.customer_id = c.customer_id "
            "WHERE r.customer_id IS NOT NULL"
        ).fetchone()
    assert rel.coverage == found / values
    assert (rel.child_rows, rel.orphan_rows, rel.orphan_values) == (rows, orphans, values - found)
    assert rel.parent_duplicate_keys == 0


def test_sakila_references_are_exactly_its_declared_foreign_keys(sakila):
    _, profile = sakila
    expected = {
        fk
        for fk in declared_foreign_keys()
        if profile.table(fk[0]).column(fk[1]).n_non_empty  # an empty column references nothing
    }
    inferred = {
        (r.child_table, r.child_column, r.parent_table, r.parent_column)
        for r in profile.relationships
    }
    assert inferred == expected


def test_clinic_references_count_the_generators_orphans(ohm, medgate):
    for truth, _, profile, *_ in (ohm, medgate):
        found = {(r.child_table, r.child_column): r for r in profile.relationships}
        for table, columns in truth.dirt["orphan_fks"].items():
            for column, orphans in columns.items():
                rel = found[(table, column)]
                parent = orphans["references"].split(".")
                assert [rel.parent_table, rel.parent_column] == parent, (table, column)
                assert rel.orphan_rows == orphans["rows"], (table, column)


# -- the synthetic clinic's dirt -------------------------------------------------------------

MANIFEST_FORMAT = {"ISO": "YYYY-MM-DD"}


@pytest.mark.parametrize("dataset", ["ohm", "medgate"])
def test_sentinels_and_date_formats_equal_the_generators_manifest(dataset, request):
    truth, snap, profile, *_ = request.getfixturevalue(dataset)
    checked = 0
    for table, columns in truth.dirt["sentinels"].items():
        for column, counts in columns.items():
            got = profile.table(table).column(column).sentinels
            assert {k: got.get(k, 0) for k in counts} == counts, (table, column)
            checked += 1
    for table, columns in truth.dirt["date_formats"].items():
        for column, counts in columns.items():
            expected = {MANIFEST_FORMAT.get(k, k): v for k, v in counts.items() if v}
            assert profile.table(table).column(column).date_formats == expected, (table, column)
            checked += 1
    assert checked > 30
    # Sentinels the generator did not write (a manufacturer called 'UNKNOWN') are real text.
    with snap.connect() as con:
        for table in profile.tables:
            for col in table.columns:
                for sentinel, n in col.sentinels.items():
                    assert (
                        n
                        == con.execute(
                            f"SELECT count(*) FROM {q(table.name)} "
                            f"WHERE upper(trim(CAST({q(col.name)} AS VARCHAR))) = ?",
                            [sentinel],
                        ).fetchone()[0]
                    ), (table.name, col.name, sentinel)


def test_date_formats_day_first_only_when_the_column_shows_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = (
        [("2020-03-04", "03/04/2020", "13/04/2020", "20200304", "04-Mar-20")] * 6
        + [("2020-02-30", "04/03/2020", "03/04/2020", "20201301", "31-Feb-20")] * 2
        + [("N/A", "12/31/2019", "", "NULL", "4-Mar-2020")] * 3
    )
    with (data / "dates.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iso", "us", "eu", "compact", "mon"])
        writer.writerows(rows)
    profile = profile_snapshot(take(tmp_path, "dates", {"kind": "csv", "path": str(data)}))
    formats = {c.name: c.date_formats for c in profile.table("dates").columns}
    assert formats == {
        "iso": {"YYYY-MM-DD": 6},  # 2020-02-30 is no date
        "us": {"MM/DD/YYYY": 11},  # ambiguous values follow the column: month first
        "eu": {"DD/MM/YYYY": 8},  # 13/04 shows day first, so 03/04 is read day first too
        "compact": {"YYYYMMDD": 6},  # month 13 is no date
        "mon": {"DD-Mon-YY": 6, "DD-Mon-YYYY": 3},
    }


def test_patterns_in_duckdb_equal_the_reference():
    values = ["237-68-3543", "A12", "", "Zoë ñ", "x" * 45, "é" * 41, "(815) 555-7675", "ab’c"]
    con = duckdb.connect()
    try:
        register(con)
        got = [
            r[0]
            for r in con.execute(
                f"SELECT {shown_sql(pattern_sql('v'))} FROM unnest(?) AS t(v)", [[*values, None]]
            ).fetchall()
        ]
    finally:
        con.close()
    assert got == [*map(pattern_of, values), None]
    assert pattern_of("237-68-3543") == "999-99-9999"
    assert pattern_of("x" * 45) == "A" * 40 + "…"


# -- privacy ---------------------------------------------------------------------------------


def value_counts(con, table: str, column: str) -> Counter:
    return Counter(
        dict(
            con.execute(
                f"SELECT CAST({q(column)} AS VARCHAR), count(*) FROM {q(table)} "
                f"WHERE {q(column)} IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
    )


def strings_in(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {s for v in node.values() for s in strings_in(v)}
    if isinstance(node, list):
        return {s for v in node for s in strings_in(v)}
    return {node} if isinstance(node, str) else set()


def structural_strings(data: dict) -> set[str]:
    """Strings in profile.json that are names, types, patterns or labels: not values."""
    out = {data["snapshot"], data["fingerprint"], data["tool_version"], *data["approximations"]}
    for t in data["tables"]:
        out |= {t["name"], *[k for key in t["candidate_keys"] for k in key]}
        for c in t["columns"]:
            out |= {c["name"], c["storage_type"], c["declared_type"], c["inferred_type"]}
            out |= {c["identifier_kind"], *c["sentinels"], *c["date_formats"]}
            out |= {p["value"] for p in c["patterns"]} | {h["value"] for h in c["histogram"]}
    return out - {None}


def assert_no_rare_value_in(snap, path: Path, floor: int) -> int:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    rare_somewhere, frequent_somewhere, checked = set(), set(), 0
    with snap.connect() as con:
        for t in data["tables"]:
            for c in t["columns"]:
                counts = value_counts(con, t["name"], c["name"])
                rare = {v for v, n in counts.items() if n < floor}
                frequent_somewhere |= {v for v, n in counts.items() if n >= floor}
                rare_somewhere |= rare
                # The column's own values: top values, samples, min and max.
                shown = json.dumps({k: c[k] for k in ("top_values", "samples", "min", "max")})
                for v in rare:
                    assert json.dumps(v, ensure_ascii=False) not in shown, (t["name"], c["name"])
                    checked += 1
                for listed in ("top_values", "patterns", "histogram"):
                    assert all(x["count"] >= floor for x in c[listed]), (c["name"], listed)
    # Anywhere in the file, as a JSON string token.
    tokens = strings_in(data) - structural_strings(data)
    leaked = (rare_somewhere - frequent_somewhere) & tokens
    assert not leaked
    for v in rare_somewhere - frequent_somewhere - structural_strings(data):
        assert json.dumps(v, ensure_ascii=False) not in text
    return checked


@pytest.mark.parametrize("dataset", ["ohm", "synthea"])
def test_default_profile_json_shows_no_rare_value(dataset, request, tmp_path):
    fixture = request.getfixturevalue(dataset)
    snap = fixture[1] if dataset == "ohm" else fixture[0]
    profile = fixture[3] if dataset == "ohm" else profile_snapshot(snap)
    assert profile.policy == PrivacyPolicy(min_cell_count=5, show_identifiers=False)
    path = write_profile(profile, tmp_path / "profile.json")
    assert assert_no_rare_value_in(snap, path, 5) > 1000
    assert any(c.suppressed_values for t in profile.tables for c in t.columns)


def test_identifier_columns_are_masked_unless_asked(ohm, synthea):
    _, _, shown, default = ohm
    for table, column, kind in [
        ("demographics", "SSN", "ssn"),
        ("demographics", "LASTNAME", "name"),
        ("demographics", "FIRSTNAME", "name"),
        ("demographics", "DOB", "dob"),
        ("demographics", "HOMEPHONE", "phone"),
        ("demographics", "ADDRESS1", "address"),
    ]:
        col = default.table(table).column(column)
        assert (col.identifier_kind, col.masked) == (kind, True), column
        assert (col.top_values, col.samples, col.min, col.max) == ([], [], None, None), column
        assert col.n_non_empty > 0 and col.patterns, column  # counts and patterns stay
        unmasked = shown.table(table).column(column)
        assert not unmasked.masked and unmasked.top_values and unmasked.min is not None
    _, synthea_profile = synthea
    patients = profile_snapshot(synthea[0]).table("patients")
    for column in ("SSN", "FIRST", "LAST", "BIRTHDATE", "ADDRESS"):
        assert patients.column(column).masked, column
    assert synthea_profile.table("patients").column("SSN").top_values  # shown when asked
    # A quartile is one of the values: the median patient's latitude is not shown.
    assert patients.column("LAT").masked and patients.column("LAT").median is None
    assert synthea_profile.table("patients").column("LAT").median is not None
    # Recognised by value, whatever the column is called.
    assert default.table("demographics").column("SSN").patterns[0].value == "999-99-9999"


# -- profile.json ----------------------------------------------------------------------------


def test_profile_json_round_trips_and_follows_its_schema(sakila, tmp_path):
    _, profile = sakila
    path = write_profile(profile, tmp_path / "reports" / "sakila" / "profile.json")
    again = read_profile(path)
    assert again == profile
    assert to_json(again) == to_json(profile)
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(path.read_text()), schema)
    assert isinstance(again, Profile) and not again.approximations


def test_histograms_add_up_and_quartiles_are_exact(sakila):
    snap, profile = sakila
    length = profile.table("film").column("length")
    assert sum(b.count for b in length.histogram) == length.n_non_empty
    assert 5 <= len(length.histogram) <= 12
    years = profile.table("rental").column("rental_date").histogram
    assert [b.value for b in years] == ["2005", "2006"]
    with snap.connect() as con:
        by_year = dict(
            con.execute(
                "SELECT CAST(year(rental_date) AS VARCHAR), count(*) FROM rental GROUP BY 1"
            ).fetchall()
        )
    assert {b.value: b.count for b in years} == by_year
    assert not math.isnan(length.std)
