"""Templates: schema errors point at file:line, compile errors name the mapping, and the
transform library agrees with plain-Python reference implementations."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from pathlib import Path

import duckdb
import pytest

from workbench.errors import MappingError
from workbench.mapping import transforms
from workbench.mapping.compile import compile_template
from workbench.mapping.template import load_template, parse_template
from workbench.target.model import find_model

MODULES = Path(__file__).resolve().parents[1] / "mappings" / "modules"

GOOD = """\
template: tiny
target: ehr
mappings:
  - name: patient
    target: patient
    source: people
    key: id
    rationale: one patient per person
    fields:
      patient_id: {expr: "'p-' || id", rationale: stable key}
      identifier: {expr: CAST(id AS VARCHAR), rationale: legacy id}
      birth_date: {expr: parse_date(dob), rationale: text dates}
      gender: {expr: "map_value(sex, 'M=male;F=female')", rationale: value set}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("    key: id\n", "    key: id\n    colour: blue\n", "colour: blue", "unknown key"),
        ("    rationale: one patient per person\n", "", "- name: patient", "rationale"),
        (
            "    source: people\n",
            "    source: people\n    disposition: maybe\n",
            "disposition: maybe",
            "maybe",
        ),
        ("      gender:", "      Gender:", "Gender:", "does not match"),
    ],
)
def test_schema_errors_name_the_file_and_line(tmp_path, old, new, needle, message):
    text = GOOD.replace(old, new)
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as e:
        load_template(path)
    where = f"{path}:{line_of(text, needle)}:"
    assert str(e.value).startswith(where), str(e.value)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = GOOD.replace("    key: id\n", "    key: [id\n")
    with pytest.raises(MappingError, match=r"tiny\.yaml:\d+: YAML syntax"):
        load_template(write(tmp_path, text))


def test_value_outside_the_value_set_parks(tmp_path):
    text = GOOD.replace("\"map_value(sex, 'M=male;F=female')\"", "lower(sex)")
    compiled = compile_template(parse_template(text, tmp_path / "t.yaml"), find_model(None))
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE people AS SELECT * FROM (VALUES (1, 'male'), (2, 'Robot')) t(id, sex)"
    )
    con.execute("ALTER TABLE people ADD COLUMN dob VARCHAR")
    for _, sql in compiled.statements:
        con.execute(sql)
    got = dict(con.execute("SELECT _source_key, _rule FROM _wb_m_patient").fetchall())
    assert got == {"1": None, "2": "value_set:gender"}


def test_compile_errors_name_the_mapping(tmp_path):
    model = find_model(None)
    bad_column = GOOD.replace("      gender:", "      colour: {expr: sex}\n      gender:")
    t = parse_template(bad_column, tmp_path / "tiny.yaml")
    with pytest.raises(MappingError, match=r"mapping patient: patient has no column 'colour'"):
        compile_template(t, model)
    no_required = GOOD.replace(
        "      identifier: {expr: CAST(id AS VARCHAR), rationale: legacy id}\n", ""
    )
    t = parse_template(no_required, tmp_path / "tiny.yaml")
    with pytest.raises(MappingError, match=r"required column patient.identifier has no field"):
        compile_template(t, model)
    reference = GOOD.replace("target: patient", "target: facility")
    t = parse_template(reference, tmp_path / "tiny.yaml")
    with pytest.raises(MappingError, match="reference table"):
        compile_template(t, model)


def test_fates_account_for_every_row(tmp_path):
    """Filters exclude, dedupe excludes, required/value-set rules park: counted by hand."""
    text = GOOD.replace(
        "    rationale: one patient per person\n",
        "    rationale: one patient per person\n"
        "    filters:\n      - {name: test_people, where: \"name = 'TEST'\", rationale: not real}\n"
        "    dedupe: {name: same_ssn, partition_by: [ssn], order_by: id, rationale: twice}\n",
    )
    t = parse_template(text, tmp_path / "tiny.yaml")
    compiled = compile_template(t, find_model(None))
    con = duckdb.connect()
    rows = [  # id, name, ssn, dob, sex
        (1, "A", "111", "2001-02-03", "M"),
        (2, "TEST", "222", "2001-02-03", "F"),  # excluded: test_people
        (3, "B", "111", "02/03/2001", "F"),  # excluded: same_ssn (id 1 is first)
        (4, "C", None, "N/A", "X"),  # loaded, but gender failed to parse
        (5, "D", None, "20010203", "f"),  # loaded
    ]
    con.execute("CREATE TABLE people(id INT, name VARCHAR, ssn VARCHAR, dob VARCHAR, sex VARCHAR)")
    con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", rows)
    for _, sql in compiled.statements:
        con.execute(sql)
    got = dict(
        con.execute(
            "SELECT _source_key, _fate || ':' || coalesce(_rule, '') FROM _wb_m_patient"
        ).fetchall()
    )
    assert got == {
        "1": "loaded:",
        "2": "excluded:test_people",
        "3": "excluded:same_ssn",
        "4": "loaded:",
        "5": "loaded:",
    }
    (bad,) = con.execute(
        "SELECT list(_source_key ORDER BY 1) FROM _wb_m_patient WHERE _bad_gender"
    ).fetchone()
    assert bad == ["4"]  # 'X' is not in the inline map: a failed parse, counted, not parked
    births = dict(con.execute("SELECT patient_id, birth_date FROM _wb_target_patient").fetchall())
    assert births == {"p-1": dt.date(2001, 2, 3), "p-4": None, "p-5": dt.date(2001, 2, 3)}


# ---- the transform library against plain Python ----------------------------------------


def py_parse_date(text):
    if text is None or text.strip() in (
        "",
        "NULL",
        "N/A",
        "NA",
        "null",
        "n/a",
        "0000-00-00",
        "00/00/0000",
    ):
        return None
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%d-%b-%y", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def py_phone(text):
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10:
        return None
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def py_name(text):
    if text is None or text.strip() in ("", "NULL", "N/A", "NA", "null", "n/a"):
        return None
    s = re.sub(r"\s+", " ", text.strip())
    if s not in (s.upper(), s.lower()):
        return s
    return " ".join(
        "-".join(p[:1].upper() + p[1:].lower() for p in w.split("-")) for w in s.split(" ")
    )


@pytest.fixture(scope="module")
def macros():
    con = duckdb.connect()
    transforms.empty_crosswalks(con)
    transforms.install(con)
    return con


DATES = [
    "2019-06-28",
    "06/28/2019",
    "20190628",
    "28-Jun-19",
    "28-JUN-1975",
    "NULL",
    "N/A",
    "0000-00-00",
    "",
    "  2001-01-01 ",
    "31/12/2019",
    "2019-02-30",
    "2019-06-28 13:45:00",
    None,
    "yesterday",
]
PHONES = [
    "(765) 555-3158",
    "765.555.3158",
    "1-765-555-3158",
    "555-3158",
    "N/A",
    None,
    "+1 (765) 555 3158",
]
NAMES = ["  SMITH  ", "o'brien", "McDonald", "MARY  ANN", "SMITH-JONES", "NULL", "", None]


@pytest.mark.parametrize("text", DATES)
def test_parse_date(macros, text):
    (got,) = macros.execute("SELECT parse_date(?)", [text]).fetchone()
    assert got == py_parse_date(text)


@pytest.mark.parametrize("text", PHONES)
def test_normalize_phone(macros, text):
    (got,) = macros.execute("SELECT normalize_phone(?)", [text]).fetchone()
    assert got == py_phone(text)


@pytest.mark.parametrize("text", NAMES)
def test_normalize_name(macros, text):
    (got,) = macros.execute("SELECT normalize_name(?)", [text]).fetchone()
    assert got == py_name(text)


def test_past_dates_pivot_two_digit_years(macros):
    (got,) = macros.execute("SELECT parse_past_date('15-Mar-60')").fetchone()
    assert got == dt.date(1960, 3, 15)
    (got,) = macros.execute("SELECT parse_past_date('15-Mar-01')").fetchone()
    assert got == dt.date(2001, 3, 15)


def test_small_transforms(macros):
    got = macros.execute(
        "SELECT map_value(' t ', 'A=active;T=terminated'), map_value('X', 'A=active'), "
        "yes_no('yes'), yes_no('0'), yes_no('maybe'), digits('123-45-6789'), "
        "parse_number('1,234.5'), parse_number('abc'), trim_text('   '), null_sentinel(' N/A '), "
        "html_escape('<b>&</b>')"
    ).fetchone()
    assert got == (
        "terminated",
        None,
        True,
        False,
        None,
        "123456789",
        1234.5,
        None,
        None,
        None,
        "&lt;b&gt;&amp;&lt;/b&gt;",
    )


def test_every_transform_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "mapping.md").read_text()
    for t in transforms.TRANSFORMS:
        if t.name in ("title_word", "md_escape"):
            continue  # internal helpers of normalize_name and summary documents
        assert f"`{t.name}(" in doc, t.name


def test_builtin_modules_validate():
    for path in sorted(MODULES.glob("*.yaml")):
        template = load_template(path)
        assert template.mappings, path
        for m in template.mappings:
            assert m.rationale.strip(), (path, m.name)
