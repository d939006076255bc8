"""data-migration-map.xlsx: WhiteRabbit's layout, the profile's numbers, Excel's limits, and
SME annotations read back, through the library and the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from workbench.profile.annotations import AnnotationError, read_annotations
from workbench.profile.map_xlsx import write
from workbench.profile.model import (
    ColumnProfile,
    PrivacyPolicy,
    Profile,
    Relationship,
    TableProfile,
    ValueCount,
)
from workbench.render.excel import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    SheetNames,
    is_truncated,
    number_or_text,
    truncate,
)

WORKBENCH = str(Path(sys.executable).parent / "workbench")
FIXTURES = Path(__file__).parent / "fixtures"

WHITERABBIT_FIELD_OVERVIEW = [
    "Table", "Field", "Description", "Type", "Max length", "N rows", "N rows checked",
    "Fraction empty", "N unique values", "Fraction unique", "Average", "Standard Deviation",
    "Min", "25%", "Median", "75%", "Max",
]  # fmt: skip
WHITERABBIT_TABLE_OVERVIEW = [
    "Table", "Description", "N rows", "N rows checked", "N Fields", "N Fields Empty",
]  # fmt: skip

LONG_TABLE = "patient_encounter_diagnosis_history_archive_2009_to_2014_v2"  # 60 characters
HUGE_VALUE = "narrative " * 4_000  # 40,000 characters


# --- building profiles by hand ---------------------------------------------------------------


def column(table: str, name: str, position: int = 0, **given) -> ColumnProfile:
    n_rows = given.pop("n_rows", 100)
    values = {
        "declared_type": "varchar(40)",
        "storage_type": "VARCHAR",
        "inferred_type": "code",
        "n_rows": n_rows,
        "n_non_empty": n_rows,
        "n_null": 0,
        "n_blank": 0,
        "sentinels": {},
        "n_distinct": 0,
        **given,
    }
    return ColumnProfile(table=table, name=name, position=position, **values)


def table(name: str, n_rows: int, columns: list[ColumnProfile], **given) -> TableProfile:
    return TableProfile(name=name, n_rows=n_rows, columns=columns, **given)


def clinic_profile() -> Profile:
    patient = table(
        "patient",
        120,
        [
            column(
                "patient",
                "patient_id",
                0,
                n_rows=120,
                inferred_type="integer",
                declared_type="int",
                storage_type="BIGINT",
                n_distinct=120,
                min="1",
                max="120",
                mean=60.5,
                std=34.785,
                q25=30.75,
                median=60.5,
                q75=90.25,
                min_length=1,
                max_length=3,
            ),
            column(
                "patient",
                "ssn",
                1,
                n_rows=120,
                inferred_type="identifier",
                n_distinct=118,
                identifier_kind="ssn",
                masked=True,
                min_length=11,
                max_length=11,
                n_non_empty=118,
                n_null=2,
                patterns=[ValueCount("999-99-9999", 118)],
            ),
            column(
                "patient",
                "sex",
                2,
                n_rows=120,
                n_non_empty=110,
                n_blank=6,
                sentinels={"N/A": 4},
                n_distinct=3,
                min="F",
                max="M",
                min_length=1,
                max_length=1,
                top_values=[ValueCount("F", 61), ValueCount("M", 48)],
                suppressed_values=1,
            ),
            column(
                "patient",
                "birth_date",
                3,
                n_rows=120,
                inferred_type="date",
                n_distinct=90,
                n_non_empty=117,
                sentinels={"0000-00-00": 3},
                min="1931-02-01",
                max="2019-12-30",
                date_formats={"YYYY-MM-DD": 100, "MM/DD/YYYY": 17},
                identifier_kind="dob",
                masked=True,
            ),
            column(
                "patient",
                "empty_note",
                4,
                n_rows=120,
                inferred_type="empty",
                n_distinct=0,
                n_non_empty=0,
                n_null=120,
            ),
            column(
                "patient",
                "=cmd|' /C calc'!A0",
                5,
                n_rows=120,
                n_distinct=1,
                top_values=[ValueCount("=1+1", 120)],
                max_length=4,
                min_length=4,
            ),
        ],
        candidate_keys=[["patient_id"]],
        description="People seen at the clinic",
    )
    visit = table(
        "visit",
        300,
        [
            column(
                "visit",
                "visit_id",
                0,
                n_rows=300,
                inferred_type="integer",
                n_distinct=300,
                min="1",
                max="300",
                mean=150.5,
                std=86.75,
                q25=75.75,
                median=150.5,
                q75=225.25,
            ),
            column(
                "visit",
                "patient_id",
                1,
                n_rows=300,
                inferred_type="integer",
                n_distinct=118,
                min="1",
                max="121",
                top_values=[ValueCount("7", 9), ValueCount("12", 8)],
                suppressed_values=100,
            ),
            column(
                "visit",
                "reason",
                2,
                n_rows=300,
                inferred_type="free_text",
                n_distinct=40,
                top_values=[ValueCount(HUGE_VALUE, 200), ValueCount("follow-up", 60)],
                suppressed_values=30,
                max_length=40_000,
            ),
        ],
    )
    long = table(
        LONG_TABLE,
        10,
        [column(LONG_TABLE, "code", 0, n_rows=10, n_distinct=1, top_values=[ValueCount("A", 10)])],
    )
    about = table("about", 5, [column("about", "text", 0, n_rows=5)])
    slashed = table("lab/results", 7, [column("lab/results", "value", 0, n_rows=7)])
    return Profile(
        snapshot="rehearsal-1",
        fingerprint="f" * 64,
        tool_version="0.1.0",
        policy=PrivacyPolicy(min_cell_count=5),
        tables=[patient, visit, long, about, slashed],
        relationships=[
            Relationship("visit", "patient_id", "patient", "patient_id", coverage=118 / 119,
                         child_rows=300, orphan_rows=2, orphan_values=1,
                         parent_duplicate_keys=0),
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> tuple[Profile, Path]:
    profile = clinic_profile()
    path = write(profile, tmp_path_factory.mktemp("map") / "reports" / "data-migration-map.xlsx")
    return profile, path


# --- reading the workbook back ---------------------------------------------------------------


def header(sheet) -> list:
    return [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]


def records(sheet) -> list[dict]:
    """Data rows keyed by header; WhiteRabbit's blank separator rows are left out."""
    names = header(sheet)
    rows = sheet.iter_rows(min_row=2, values_only=True)
    return [dict(zip(names, r, strict=False)) for r in rows if r and r[0] is not None]


def link_target(location: str) -> tuple[str, str]:
    match = re.fullmatch(r"'((?:[^']|'')+)'!([A-Z]+[0-9]+)", location)
    assert match, location
    return match[1].replace("''", "'"), match[2]


def pairs(sheet) -> dict[str, list[tuple]]:
    """A table sheet's value | Frequency pairs, by field name."""
    rows = list(sheet.iter_rows(values_only=True))
    found = {}
    for col in range(0, len(rows[0]), 2):
        if col + 1 >= len(rows[0]) or rows[0][col + 1] != "Frequency":
            break
        found[rows[0][col]] = [
            (r[col], r[col + 1]) for r in rows[1:] if col < len(r) and r[col] is not None
        ]
    return found


# --- the layout ------------------------------------------------------------------------------


def test_first_two_sheets_carry_whiterabbits_headers_exactly(clinic):
    _, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames[:4] == ["Field Overview", "Table Overview", "About", "Relationships"]
    field_header = header(wb["Field Overview"])
    table_header = header(wb["Table Overview"])
    assert field_header[: len(WHITERABBIT_FIELD_OVERVIEW)] == WHITERABBIT_FIELD_OVERVIEW
    assert table_header[: len(WHITERABBIT_TABLE_OVERVIEW)] == WHITERABBIT_TABLE_OVERVIEW
    # The workbench's columns come after, the SME columns last; no header repeats (a
    # reader that maps header to index would take the later one).
    assert field_header[-3:] == table_header[-3:] == ["Disposition", "Target", "Notes"]
    assert {"Sheet", "Declared type", "N null", "N blank", "Sentinels"} <= set(field_header)
    assert len(set(field_header)) == len(field_header)


def test_rabbit_in_a_hat_reads_it_as_a_scan_report(clinic):
    """What Rabbit-in-a-Hat's Database.generateModelFromScanReport does, step by step."""
    profile, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    first = wb.worksheets[0]
    rows = list(first.iter_rows(values_only=True))
    index = {name: i for i, name in enumerate(rows[0])}
    for row in rows[1:]:
        name = row[index["Table"]]
        if not name:
            continue
        float(row[index["N rows"]]), float(row[index["N rows checked"]])  # parsed as numbers
        float(row[index["Max length"]])
        sheet_name = name[:31].replace("/", "_")  # Table.createSheetNameFromTableName
        if sheet_name.casefold() in ("about", "relationships"):
            continue  # taken by the workbench's own sheets: Rabbit-in-a-Hat shows no values
        sheet = list(wb[sheet_name].iter_rows(values_only=True))
        field = row[index["Field"]]
        at = list(sheet[0]).index(field)
        values = []
        for r in sheet[1:]:
            value = r[at] if at < len(r) else None
            count = r[at + 1] if at + 1 < len(r) else None
            if value in (None, "") and count in (None, ""):
                break
            values.append((value, count))
        column = profile.table(name).column(field)
        counted = [(v, c) for v, c in values if c is not None]
        expected = [] if column.masked else [(v.value, v.count) for v in column.top_values]
        assert [c for _, c in counted] == [c for _, c in expected], (name, field)
        for (got, _), (want, _) in zip(counted, expected, strict=True):
            assert got == want or (is_truncated(got) and want.startswith(got[:100]))


def test_sme_columns_stand_out_and_offer_the_dispositions(clinic):
    _, path = clinic
    wb = openpyxl.load_workbook(path)
    for name in ("Field Overview", "Table Overview"):
        sheet = wb[name]
        names = header(sheet)
        disposition = openpyxl.utils.get_column_letter(names.index("Disposition") + 1)
        rules = [
            v for v in sheet.data_validations.dataValidation
            if str(v.sqref).startswith(f"{disposition}2")
        ]  # fmt: skip
        assert len(rules) == 1 and rules[0].type == "list"
        assert rules[0].formula1 == '"discrete,summary document,skip"'
        sme, plain = sheet[f"{disposition}2"], sheet["B2"]
        assert sme.fill.fgColor.rgb != plain.fill.fgColor.rgb
        assert sheet[f"{disposition}1"].fill.fgColor.rgb != sheet["A1"].fill.fgColor.rgb


def test_field_overview_numbers_equal_the_profile(clinic):
    profile, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = records(wb["Field Overview"])
    assert [(r["Table"], r["Field"]) for r in rows] == [
        (t.name, c.name) for t in profile.tables for c in t.columns
    ]
    for r in rows:
        c = profile.table(r["Table"]).column(r["Field"])
        assert r["Type"] == c.inferred_type
        assert r["Declared type"] == c.declared_type
        assert r["Max length"] == (c.max_length or 0)
        assert r["N rows"] == r["N rows checked"] == c.n_rows
        assert r["Fraction empty"] == pytest.approx(c.fraction_empty)
        assert r["N unique values"] == c.n_distinct
        assert r["Fraction unique"] == pytest.approx(c.fraction_unique)
        assert (r["N null"], r["N blank"], r["N non-empty"]) == (c.n_null, c.n_blank, c.n_non_empty)
        for name, value in [
            ("Average", c.mean),
            ("Standard Deviation", c.std),
            ("25%", c.q25),
            ("Median", c.median),
            ("75%", c.q75),
        ]:
            assert r[name] == pytest.approx(value) if value is not None else r[name] is None
        if c.masked:  # a masked column's extremes are values too
            assert (r["Min"], r["Max"]) == (None, None)
        elif c.inferred_type == "integer":
            assert (r["Min"], r["Max"]) == (int(c.min), int(c.max))
        else:
            assert (r["Min"], r["Max"]) == (c.min, c.max)
        assert r["Masked"] == ("yes" if c.masked else None)
    ssn = next(r for r in rows if r["Field"] == "ssn")
    assert ssn["Identifier"] == "ssn" and ssn["Top patterns"] == "999-99-9999 (118)"
    birth = next(r for r in rows if r["Field"] == "birth_date")
    assert birth["Sentinels"] == "0000-00-00: 3"
    assert birth["Date formats"] == "YYYY-MM-DD: 100; MM/DD/YYYY: 17"
    # Legacy text that looks like a formula stays text.
    formula = next(r for r in rows if r["Table"] == "patient" and r["Field"].startswith("="))
    assert formula["Field"] == "=cmd|' /C calc'!A0"


def test_table_overview_and_about(clinic):
    profile, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = records(wb["Table Overview"])
    assert [r["Table"] for r in rows] == [t.name for t in profile.tables]
    for r, t in zip(rows, profile.tables, strict=True):
        assert (r["N rows"], r["N rows checked"]) == (t.n_rows, t.n_rows)
        assert (r["N Fields"], r["N Fields Empty"]) == (t.n_columns, len(t.empty_columns))
    assert rows[0]["Description"] == "People seen at the clinic"
    assert rows[0]["Candidate keys"] == "(patient_id)" and rows[0]["Masked fields"] == 2
    about = {r[0]: r[1] for r in wb["About"].iter_rows(values_only=True) if r and r[0]}
    assert about["Snapshot"] == "rehearsal-1" and about["Fingerprint"] == "f" * 64
    assert about["Min cell count"] == 5 and about["Identifiers masked"] == "yes"
    assert about["Statistics"].startswith("exact")
    rel = records(wb["Relationships"])
    assert rel == [
        {"Child table": "visit", "Child field": "patient_id", "Parent table": "patient",
         "Parent field": "patient_id", "Coverage": pytest.approx(118 / 119), "Child rows": 300,
         "Orphan rows": 2, "Orphan values": 1, "Parent duplicate keys": 0},
    ]  # fmt: skip


def test_table_sheets_show_top_values_masks_and_what_was_withheld(clinic):
    profile, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    patient = pairs(wb["patient"])
    assert list(patient) == [c.name for c in profile.table("patient").columns]
    assert patient["sex"] == [("F", 61), ("M", 48), ("1 value seen < 5 times not shown", None)]
    assert patient["ssn"] == [("masked: identifier (ssn)", None)]
    assert patient["birth_date"] == [("masked: identifier (dob)", None)]
    assert patient["empty_note"] == []
    visit = pairs(wb["visit"])
    assert visit["patient_id"] == [
        ("7", 9), ("12", 8), ("100 values seen < 5 times not shown", None),
        ("16 more values not listed", None),
    ]  # fmt: skip


def test_a_rare_value_that_slipped_through_is_still_not_shown(tmp_path):
    top = [ValueCount("A", 90), ValueCount("B", 4)]
    rare = column("t", "code", 0, n_distinct=3, top_values=top, suppressed_values=1)
    profile = Profile("s", "0" * 64, "0.1.0", PrivacyPolicy(min_cell_count=5),
                      [table("t", 100, [rare])])  # fmt: skip
    wb = openpyxl.load_workbook(write(profile, tmp_path / "m.xlsx"), read_only=True)
    assert pairs(wb["t"])["code"] == [("A", 90), ("2 values seen < 5 times not shown", None)]


def test_every_value_on_a_table_sheet_comes_from_the_profile(clinic):
    profile, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    for t in profile.tables:
        sheet = wb[t.name] if t.name in wb.sheetnames else None
        if sheet is None:
            continue
        for name, listed in pairs(sheet).items():
            allowed = {(v.value, v.count) for v in t.column(name).top_values}
            for value, count in listed:
                assert count is None or (value, count) in allowed or is_truncated(value)


def test_hyperlinks_resolve_to_existing_sheets_and_back(clinic):
    _, path = clinic
    wb = openpyxl.load_workbook(path)  # hyperlinks need the full reader
    linked_from: dict[str, set[str]] = {}
    for sheet in wb.worksheets:
        for cell in (c for row in sheet.iter_rows() for c in row if c.hyperlink):
            target, ref = link_target(cell.hyperlink.location)
            assert target in wb.sheetnames, (sheet.title, cell.coordinate, target)
            assert wb[target][ref] is not None
            linked_from.setdefault(sheet.title, set()).add(target)
    overview = wb["Field Overview"]
    for row in overview.iter_rows(min_row=2):
        if row[0].value is not None:
            assert row[0].hyperlink is not None, row[0].coordinate
            target, _ = link_target(row[0].hyperlink.location)
            assert target == row[FIELD_SHEET_COLUMN].value
    tables = [s for s in wb.sheetnames if s not in wb.sheetnames[:4]]
    assert set(tables) <= linked_from["Field Overview"] | linked_from["Table Overview"]
    for name in tables:
        assert {"Field Overview", "Table Overview"} <= linked_from[name], name
    assert linked_from["Relationships"] == {"visit", "patient"}


FIELD_SHEET_COLUMN = WHITERABBIT_FIELD_OVERVIEW.__len__()  # "Sheet" follows WhiteRabbit's


# --- Excel's limits --------------------------------------------------------------------------


def test_long_and_invalid_table_names_get_a_sheet_and_a_lookup(clinic):
    _, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    assert all(len(s) <= 31 and not re.search(r"[\[\]:*?/\\]", s) for s in wb.sheetnames)
    assert len({s.casefold() for s in wb.sheetnames}) == len(wb.sheetnames)
    sheet_of = {r["Table"]: r["Sheet"] for r in records(wb["Table Overview"])}
    # A valid name keeps itself; Rabbit-in-a-Hat derives the sheet by cutting at 31 characters.
    assert sheet_of["patient"] == "patient"
    assert sheet_of[LONG_TABLE] == LONG_TABLE[:31]
    assert sheet_of["lab/results"] == "lab_results"
    assert sheet_of["about"] not in ("About", "about")  # Excel ignores case: "About" is taken
    for name, sheet in sheet_of.items():
        assert pairs(wb[sheet]), name
    lookup = {}
    rows = list(wb["About"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[:2] == ("Sheet", "Table"))
    for r in rows[start + 1 :]:
        lookup[r[0]] = r[1]
    assert lookup[LONG_TABLE[:31]] == LONG_TABLE and lookup["lab_results"] == "lab/results"


def test_over_long_cells_are_truncated_with_a_marker(clinic):
    _, path = clinic
    wb = openpyxl.load_workbook(path, read_only=True)
    value, count = pairs(wb["visit"])["reason"][0]
    assert count == 200
    assert len(value) == MAX_CELL_CHARS
    assert value.endswith("…[truncated: 40,000 chars]")
    assert HUGE_VALUE.startswith(value[: -len("…[truncated: 40,000 chars]")])


def test_a_table_wider_than_excel_is_split_across_sheets(tmp_path):
    n = 16_500
    wide = table("wide", 3, [
        column("wide", f"c{i:05d}", i, n_rows=3, n_distinct=1, top_values=[ValueCount("x", 3)])
        for i in range(n)
    ])  # fmt: skip
    profile = Profile("s", "0" * 64, "0.1.0", PrivacyPolicy(min_cell_count=1), [wide])
    path = write(profile, tmp_path / "wide.xlsx")
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == [
        "Field Overview", "Table Overview", "About", "Relationships",
        "wide", "wide (2)", "wide (3)",
    ]  # fmt: skip
    seen = []
    for name in ("wide", "wide (2)", "wide (3)"):
        sheet = wb[name]
        assert sheet.max_column <= MAX_COLUMNS
        first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True))
        fields = [v for v in first[::2] if v and v.startswith("c")]
        assert all(v == "Frequency" for v in first[1 : 2 * len(fields) : 2])
        seen += fields
    assert seen == [c.name for c in wide.columns]
    rows = records(wb["Field Overview"])
    assert len(rows) == n
    assert rows[0]["Sheet"] == "wide" and rows[-1]["Sheet"] == "wide (3)"
    assert records(wb["Table Overview"])[0]["Sheets"] == 3


def test_sheet_names_are_unique_valid_and_remembered():
    names = SheetNames(reserved=["Field Overview"])
    assert names.allocate("field overview") == "field overview~2"
    assert names.allocate("a:b") == "a_b"
    assert names.allocate("a?b") == "a_b~2"
    assert names.allocate("'quoted'") == "_quoted_"
    assert names.allocate("history") == "history~2"
    long = names.allocate("x" * 40, part=12)
    assert long == "x" * 26 + " (12)" and len(long) == 31
    assert names.renamed["a_b~2"] == "a?b"
    assert names.entry(long).part == 12


def test_truncate_and_numbers():
    assert truncate("short") == "short"
    cut = truncate("y" * 100, limit=50)
    assert len(cut) == 50 and cut.endswith("…[truncated: 100 chars]")
    assert number_or_text("42") == 42 and number_or_text("-1.5") == -1.5
    assert number_or_text("007") == "007" and number_or_text("12345678901234567") == (
        "12345678901234567"
    )


# --- SME annotations -------------------------------------------------------------------------


def fill(path: Path, out: Path, sheet: str, by_key: dict[tuple, dict[str, str]]) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    names = header(ws)
    keyed = ("Table", "Field") if sheet == "Field Overview" else ("Table",)
    for row in ws.iter_rows(min_row=2):
        key = tuple(row[names.index(k)].value for k in keyed)
        for column_name, value in by_key.get(key, {}).items():
            row[names.index(column_name)].value = value
    wb.save(out)


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}  # rich wraps tables to the terminal's width
    return subprocess.run([WORKBENCH, *args], capture_output=True, text=True, timeout=120, env=env)


def test_annotations_round_trip_through_library_and_cli(clinic, tmp_path):
    _, path = clinic
    filled = tmp_path / "filled.xlsx"
    fill(path, filled, "Table Overview", {
        ("patient",): {"Disposition": "discrete", "Target": "ehr.person"},
        ("about",): {"Disposition": "skip", "Notes": "CMS page text, not clinical"},
    })  # fmt: skip
    fill(filled, filled, "Field Overview", {
        ("patient", "sex"): {"Disposition": "Discrete", "Target": "ehr.person.gender"},
        ("visit", "reason"): {"Disposition": "summary document", "Notes": "keep as PDF"},
        ("patient", "ssn"): {"Notes": "ask the client"},
    })  # fmt: skip
    found = read_annotations(filled)
    got = [(a.table, a.field, a.disposition, a.target, a.notes) for a in found]
    assert got == [
        ("patient", None, "discrete", "ehr.person", None),
        ("patient", "ssn", None, None, "ask the client"),
        ("patient", "sex", "discrete", "ehr.person.gender", None),
        ("about", None, "skip", None, "CMS page text, not clinical"),
        ("visit", "reason", "summary document", None, "keep as PDF"),
    ]
    result = run("map", "annotations", str(filled), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [a.to_dict() for a in found]
    shown = run("map", "annotations", str(filled))
    assert shown.returncode == 0 and "ehr.person.gender" in shown.stdout


def test_an_unfilled_map_has_no_annotations(clinic):
    _, path = clinic
    assert read_annotations(path) == []


def test_a_bad_disposition_names_sheet_cell_and_value(clinic, tmp_path):
    _, path = clinic
    filled = tmp_path / "bad.xlsx"
    fill(path, filled, "Field Overview", {("visit", "reason"): {"Disposition": "maybe later"}})
    with pytest.raises(AnnotationError) as caught:
        read_annotations(filled)
    message = str(caught.value)
    wb = openpyxl.load_workbook(filled, read_only=True)
    names = header(wb["Field Overview"])
    rows = list(wb["Field Overview"].iter_rows(min_row=1, values_only=True))
    row = next(i for i, r in enumerate(rows, 1) if r[0] == "visit" and r[1] == "reason")
    cell = f"{openpyxl.utils.get_column_letter(names.index('Disposition') + 1)}{row}"
    assert f"'Field Overview' cell {cell}" in message and "'maybe later'" in message
    result = run("map", "annotations", str(filled), "--json")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and cell in lines[0]


def test_an_annotation_on_a_separator_row_is_not_dropped(clinic, tmp_path):
    _, path = clinic
    wb = openpyxl.load_workbook(path)
    sheet = wb["Field Overview"]
    names = header(sheet)
    separator = next(r[0].row for r in sheet.iter_rows(min_row=2) if r[0].value is None)
    sheet.cell(separator, names.index("Notes") + 1).value = "what about the lab table?"
    wb.save(tmp_path / "sep.xlsx")
    with pytest.raises(AnnotationError, match=f"row {separator}: an annotation on a row without"):
        read_annotations(tmp_path / "sep.xlsx")


def test_not_a_map_is_a_one_line_error(tmp_path):
    stray = tmp_path / "notes.xlsx"
    stray.write_text("not a workbook")
    for target in (stray, tmp_path / "missing.xlsx"):
        result = run("map", "annotations", str(target))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error:")


def test_write_is_all_or_nothing(tmp_path):
    profile = clinic_profile()
    profile.tables[0].columns[0].n_rows = "not a number"  # type: ignore[assignment]
    target = tmp_path / "map.xlsx"
    with pytest.raises(Exception):  # noqa: B017 - any failure, as long as nothing is left
        write(profile, target)
    assert list(tmp_path.iterdir()) == []


# --- a real profile --------------------------------------------------------------------------


def test_a_real_sakila_profile_renders(tmp_path):
    from workbench import workspace
    from workbench.profile import engine
    from workbench.snapshot import acquire, open_snapshot
    from workbench.sources import from_config

    ws = workspace.init(tmp_path / "ws")
    sakila = FIXTURES / "sakila"
    paths = [str(sakila / "sakila-mv-schema.sql"), str(sakila / "sakila-mv-data.sql")]
    source = from_config("sakila", {"kind": "mysqldump", "path": paths}, ws)
    acquire(source, ws.snapshots_dir, "s1")
    snapshot = open_snapshot(ws.snapshots_dir, "s1")
    profile = engine.profile_snapshot(snapshot, PrivacyPolicy())
    path = write(profile, tmp_path / "reports" / "s1" / "data-migration-map.xlsx")
    wb = openpyxl.load_workbook(path, read_only=True)
    assert header(wb["Field Overview"])[:17] == WHITERABBIT_FIELD_OVERVIEW
    tables = {r["Table"]: r for r in records(wb["Table Overview"])}
    assert {t.name: t.n_rows for t in profile.tables} == {
        name: r["N rows"] for name, r in tables.items()
    }
    assert tables["rental"]["N rows"] > 0 and wb[tables["rental"]["Sheet"]]
    fields = records(wb["Field Overview"])
    assert len(fields) == sum(t.n_columns for t in profile.tables)
    for r in fields:
        c = profile.table(r["Table"]).column(r["Field"])
        assert (r["N rows"], r["N unique values"]) == (c.n_rows, c.n_distinct)
    for t in profile.tables:
        listed = pairs(wb[tables[t.name]["Sheet"]])
        for c in t.columns:
            counted = [(v, n) for v, n in listed[c.name] if n is not None]
            assert counted == [(v.value, v.count) for v in c.top_values], (t.name, c.name)
            assert all(n >= profile.policy.min_cell_count for _, n in counted)
    rels = records(wb["Relationships"])
    assert len(rels) == len(profile.relationships)
    assert any((r["Child table"], r["Parent table"]) == ("rental", "customer") for r in rels)
    assert read_annotations(path) == []
