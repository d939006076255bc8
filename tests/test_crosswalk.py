"""Crosswalks: the built-in CSVs agree with the synthetic clinic's code tables, coverage of a
snapshot equals the generator's manifest, malformed files are refused with FILE:LINE, and
suggestions are drafts that never touch approved rows."""

import csv
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from workbench import workspace
from workbench.errors import CrosswalkError
from workbench.mapping import transforms
from workbench.mapping.coverage import code_coverage
from workbench.mapping.crosswalk import (
    COLUMNS,
    crosswalk_frame,
    find_crosswalk,
    load_crosswalk,
    write_crosswalk,
)
from workbench.mapping.library import library_dir
from workbench.mapping.suggest import apply_suggestions, suggest
from workbench.snapshot import acquire, open_snapshot
from workbench.snapshot.staging import quote_ident
from workbench.sources import from_config
from workbench.synth import codes, generate

WORKBENCH = str(Path(sys.executable).parent / "workbench")
SYSTEMS = {"CVX": "http://hl7.org/fhir/sid/cvx", "LOINC": "http://loinc.org"}
VACCINES = {"ohm": ("immunization", "VACCINE_CODE", "VACCINE_NAME"),
            "medgate": ("immunizations", "ImmunizationCode", "ImmunizationName")}  # fmt: skip


@pytest.fixture(scope="module", params=["ohm", "medgate"])
def clinic(request, tmp_path_factory):
    """A 300-person clinic of one style, dumped, acquired as snapshot ``s``."""
    style = request.param
    root = tmp_path_factory.mktemp(style)
    generate(style=style, people=300, seed=5, fmt="mysqldump", out=root / "data")
    ws = workspace.init(root / "ws")
    dump = str(root / "data" / f"{style}.sql")
    acquire(from_config("clinic", {"kind": "mysqldump", "path": dump}, ws), ws.snapshots_dir, "s")
    return style, ws, json.loads((root / "data" / "synth-manifest.json").read_text())


def _coverage(ws, name, table, column, display=None):
    xw = find_crosswalk(ws.mappings_dir, name)
    with open_snapshot(ws.snapshots_dir, "s").connect() as con:
        disp = quote_ident(display) if display else None
        return code_coverage(con, xw, table, quote_ident(column), disp)


def test_coverage_equals_the_generators_manifest(clinic):
    style, ws, manifest = clinic
    checked, padded = set(), 0
    for table, columns in manifest["dirt"]["local_codes"].items():
        for column, truth in columns.items():
            cov = _coverage(ws, truth["crosswalk"], table, column)
            rows, unmapped = truth["rows"], truth["unmapped"]
            assert cov.distinct_codes == len(rows), (table, column)
            assert cov.distinct_translated == len(rows) - len(unmapped)
            assert cov.rows_with_code == sum(rows.values())
            assert cov.rows_translated == sum(rows.values()) - sum(unmapped.values())
            assert cov.rows_without_code == 0
            assert {c: n for c, _, n in cov.unmapped} == unmapped
            assert [n for _, _, n in cov.unmapped] == sorted(unmapped.values(), reverse=True)
            assert cov.row_coverage == pytest.approx(cov.rows_translated / cov.rows_with_code)
            checked.add(truth["crosswalk"])
            padded += manifest["dirt"]["trailing_spaces"].get(table, {}).get(column, 0)
            if truth["crosswalk"] == "vaccine_cvx":
                assert cov.rows_unmapped == manifest["dirt"]["totals"]["rows_without_cvx"]
    expected = {"vaccine_cvx", "tb_loinc", "chemistry_loinc"} if style == "ohm" else {"vaccine_cvx"}
    assert checked == expected
    assert padded > 0  # codes with trailing spaces were there, and counted as their code


def test_builtin_csvs_agree_with_the_code_tables():
    for name, table in codes.crosswalk_tables().items():
        with (library_dir() / "crosswalks" / f"{name}.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == list(COLUMNS)
        assert {r["source_code"]: r["target_code"] for r in rows} == {
            code: info["standard"] for code, info in table["codes"].items() if info["standard"]
        }, name
        for r in rows:
            info = table["codes"][r["source_code"]]
            assert (r["source_display"], r["target_display"]) == (
                info["name"],
                info["standard_name"],
            )
            assert r["target_system"] == SYSTEMS[table["system"]]
            assert (r["status"], r["reviewer"], r["date"]) == (
                "approved",
                "workbench",
                "2026-11-21",
            )
    # A local code per dose maps to the vaccine's one CVX code: the target is wider.
    hepb = find_crosswalk(None, "vaccine_cvx").approved["HEPB-1"]
    assert (hepb.target_code, hepb.equivalence) == ("43", "wider")


def test_write_then_load_gives_the_same_bytes(tmp_path):
    original = find_crosswalk(None, "vaccine_cvx")
    copy = load_crosswalk(write_crosswalk(original, tmp_path / "copy.csv"))
    assert copy.entries == original.entries and copy.sha256 == original.sha256


HEADER = ",".join(COLUMNS)
GOOD = "legacy-local,FLU,INFLUENZA VACCINE,http://hl7.org/fhir/sid/cvx,141,Flu,equivalent,approved,r,2026-11-21"


def _row(**changes) -> str:
    values = dict(zip(COLUMNS, next(csv.reader([GOOD])), strict=True)) | changes
    return ",".join(values.values())


MALFORMED = {
    "missing column": (HEADER.replace(",reviewer", "") + "\n", 1, "missing columns reviewer"),
    "extra column": (HEADER + ",score\n", 1, "unknown columns score"),
    "bad status": (f"{HEADER}\n{GOOD}\n{_row(status='approvd')}\n", 3, "status 'approvd'"),
    "bad equivalence": (f"{HEADER}\n{_row(equivalence='same')}\n", 2, "equivalence 'same'"),
    "bad date": (f"{HEADER}\n{_row(date='11/21/2026')}\n", 2, "not an ISO date"),
    "impossible date": (f"{HEADER}\n{_row(date='2026-02-30')}\n", 2, "not an ISO date"),
    "approved without target": (f"{HEADER}\n{_row(target_code='')}\n", 2, "no target_code"),
    "two approved targets": (
        f"{HEADER}\n{GOOD}\n{_row(source_code='FLU  ', target_code='140')}\n",
        3,
        "'FLU' is approved as '140' here and as '141' on line 2",
    ),
    "short row": (f"{HEADER}\n{GOOD}\nlegacy-local,FLU\n", 3, "2 fields, the header has 10"),
}


@pytest.mark.parametrize(("text", "line", "cause"), MALFORMED.values(), ids=list(MALFORMED))
def test_a_malformed_crosswalk_names_the_file_and_line(tmp_path, text, line, cause):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CrosswalkError) as caught:
        load_crosswalk(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ") and cause in message
    assert "\n" not in message


def test_non_utf8_names_the_line(tmp_path):
    path = tmp_path / "cp1252.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\n".encode() + _row(source_display="CAFÉ").encode("cp1252"))
    with pytest.raises(CrosswalkError, match=rf"^{path}:3: not UTF-8"):
        load_crosswalk(path)


def test_unapproved_rows_may_repeat_and_translate_nothing(tmp_path):
    path = tmp_path / "draft.csv"
    rows = [_row(status="unchecked", target_code="140"), _row(status="flagged", target_code="")]
    path.write_text("\n".join([HEADER, GOOD, *rows, GOOD]) + "\n", encoding="utf-8")
    xw = load_crosswalk(path)
    assert xw.status_counts == {"approved": 2, "unchecked": 1, "flagged": 1}
    assert xw.approved["FLU"].target_code == "141"
    frame = crosswalk_frame({"v": xw})
    assert frame.columns == ["crosswalk", *COLUMNS[:6], "status"]
    assert frame.filter(frame["status"] == "approved").height == 1  # no doubled lookup


def test_coverage_trims_codes_keeps_case_and_skips_blanks():
    xw = find_crosswalk(None, "vaccine_cvx")
    con = duckdb.connect()
    con.execute("CREATE TABLE shots (code VARCHAR)")
    con.execute("INSERT INTO shots VALUES ('FLU  '), ('FLU'), ('flu'), (NULL), ('  '), ('OTHER')")
    cov = code_coverage(con, xw, "shots", "code")
    assert (cov.distinct_codes, cov.distinct_translated) == (3, 1)
    assert (cov.rows_with_code, cov.rows_translated, cov.rows_without_code) == (4, 2, 2)
    assert cov.unmapped == [("OTHER", None, 1), ("flu", None, 1)]
    with pytest.raises(CrosswalkError, match="no_such_table"):
        code_coverage(con, xw, "no_such_table", "code")


def test_the_compilers_xw_lookup_reads_the_frame():
    con = duckdb.connect()
    con.register("_xw", crosswalk_frame({"vaccine_cvx": find_crosswalk(None, "vaccine_cvx")}))
    transforms.install(con)
    got = con.sql("SELECT xw('vaccine_cvx', 'HEPB-2   '), xw('vaccine_cvx', 'OTHER')").fetchall()
    assert got == [("43", None)]


def _vaccine_suggestions(ws, style):
    table, column, display = VACCINES[style]
    cov = _coverage(ws, "vaccine_cvx", table, column, display)
    xw = find_crosswalk(ws.mappings_dir, "vaccine_cvx")
    return xw, suggest(xw, cov.unmapped, today=date(2026, 11, 22))


def test_suggestions_are_unchecked_drafts(clinic):
    style, ws, manifest = clinic
    table, column, _ = VACCINES[style]
    _, found = _vaccine_suggestions(ws, style)
    assert {s.code for s in found} == set(
        manifest["dirt"]["local_codes"][table][column]["unmapped"]
    )
    drafts = [s.entry for s in found if s.entry is not None]
    assert drafts
    for e in drafts:
        assert (e.status, e.equivalence, e.reviewer, e.date) == (
            "unchecked", "inexact", "", "2026-11-22"
        )  # fmt: skip
    by_code = {s.code: s for s in found}
    flu = by_code["FLU-STDY"].entry  # seed 5 draws the study code in both styles
    influenza = {c.standard for c in codes.VACCINES if "Influenza" in (c.standard_name or "")}
    assert flu.target_system == SYSTEMS["CVX"] and flu.target_code in influenza
    assert by_code["FLU-STDY"].score > by_code["FLU-STDY"].runner_ups[0].score
    # OTHER shares only the word VACCINE with any target: no suggestion, not a wrong one.
    assert by_code["OTHER"].entry is None


def test_apply_suggestions_appends_and_never_touches_existing_rows(clinic, tmp_path):
    style, ws, _ = clinic
    xw, found = _vaccine_suggestions(ws, style)
    draft = tmp_path / "vaccine_cvx.csv"
    flagged = _row(source_code="HEPB-TTR", target_code="", status="flagged", date="")
    shutil.copyfile(xw.path, draft)
    with draft.open("a", encoding="utf-8") as f:
        f.write(flagged + "\n")
    before = draft.read_bytes()
    after = apply_suggestions(xw, found, draft)
    assert draft.read_bytes().startswith(before)
    added = after.entries[len(load_crosswalk(xw.path).entries) + 1 :]
    assert {e.source_code for e in added} == {
        s.code for s in found if s.entry is not None and s.code != "HEPB-TTR"
    }
    assert all(e.status == "unchecked" for e in added)
    assert after.approved == xw.approved
    again = draft.read_bytes()
    apply_suggestions(xw, found, draft)
    assert draft.read_bytes() == again  # nothing suggested twice


def test_cli_coverage_json_equals_the_api(clinic):
    style, ws, _ = clinic
    table, column, display = VACCINES[style]
    args = ["crosswalk", "coverage", "vaccine_cvx", "-s", "s", "-t", table, "-c", column]
    result = _run(*args, "-d", display, "--json", "-w", str(ws.root))
    assert result.returncode == 0, result.stderr
    api = _coverage(ws, "vaccine_cvx", table, column, display)
    assert json.loads(result.stdout) == json.loads(json.dumps(api.to_dict()))


def test_cli_suggest_writes_the_draft_and_check_reads_it(clinic):
    style, ws, _ = clinic
    table, column, display = VACCINES[style]
    draft = ws.mappings_dir / "crosswalks" / "vaccine_cvx.csv"
    args = ["crosswalk", "suggest", "vaccine_cvx", "-s", "s", "-t", table, "-c", column]
    try:
        result = _run(*args, "-d", display, "--write", "--json", "-w", str(ws.root))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["written"] == str(draft)
        checked = _run("crosswalk", "check", "vaccine_cvx", "--json", "-w", str(ws.root))
        assert json.loads(checked.stdout)["unchecked"] > 0
        draft.write_text(draft.read_text() + "x,y\n", encoding="utf-8")
        broken = _run("crosswalk", "check", "vaccine_cvx", "-w", str(ws.root))
        assert broken.returncode == 1 and f"{draft}:" in broken.stderr
    finally:
        draft.unlink(missing_ok=True)  # the other tests read the built-in crosswalk


def _run(*args):
    return subprocess.run([WORKBENCH, *args], capture_output=True, text=True, timeout=300)


def test_a_vocabulary_adds_candidates():
    tb = find_crosswalk(None, "tb_loinc")
    ppd = [("PPD", "TUBERCULIN SKIN TEST (MANTOUX)", 5)]
    assert suggest(tb, ppd)[0].entry is None  # the crosswalk alone knows only QuantiFERON
    vocabulary = [("urn:test", "T1", "Tuberculin skin test"), ("urn:test", "T2", "Chest X-ray")]
    found = suggest(tb, ppd, vocabulary)[0]
    assert (found.entry.target_system, found.entry.target_code) == ("urn:test", "T1")
    assert len(found.runner_ups) == 2  # limit 3: the best and two runners-up
