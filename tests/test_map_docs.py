"""The ETL specification, `map sql`, `map check` and the module library, over a real
synthetic OHM snapshot: the documents say everything the template says, offline, with
coverage and accounting numbers that agree with what is computed separately."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from workbench import workspace
from workbench.cli import app
from workbench.mapping import docs, library, modules, workflow
from workbench.mapping.coverage import code_coverage
from workbench.mapping.crosswalk import find_crosswalk
from workbench.mapping.projection import project
from workbench.render.page import fmt_pct
from workbench.snapshot import acquire, open_snapshot
from workbench.snapshot.staging import quote_ident
from workbench.sources import from_config
from workbench.synth import generate

WORKBENCH = str(Path(sys.executable).parent / "workbench")
USERS = '\n[users]\nanalyst = "migration_engineer"\nonboarder = "onboarding"\n'
# Where the ohm module looks codes up, written down here rather than read from the template.
CODE_COLUMNS = {
    "vaccine_cvx": ("immunization", "VACCINE_CODE"),
    "tb_loinc": ("tuber", "LAB_CODE"),
    "chemistry_loinc": ("cholesterol", "LAB_CODE"),
}


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A 300-person OHM clinic acquired as snapshot ``s``; the spec written with and
    without it."""
    root = tmp_path_factory.mktemp("docs")
    generate(style="ohm", people=300, seed=5, fmt="mysqldump", out=root / "data")
    ws = workspace.init(root / "ws")
    with (ws.root / workspace.CONFIG_NAME).open("a") as f:
        f.write(USERS)
    ws = workspace.load(ws.root)
    dump = str(root / "data" / "ohm.sql")
    acquire(from_config("clinic", {"kind": "mysqldump", "path": dump}, ws), ws.snapshots_dir, "s")
    loaded = workflow.load(ws, "ohm")
    with open_snapshot(ws.snapshots_dir, "s").connect() as con:
        projection = project(con, workflow.compile_loaded(loaded, con))
        files = docs.write_docs(loaded, root / "spec", projection, snapshot="s")
        accounting = projection.accounting().to_dicts()
    plain = docs.write_docs(loaded, root / "plain")
    return ws, files, plain, accounting


def yaml_mappings() -> list[dict]:
    path = library.library_dir() / "modules" / "ohm.yaml"
    return YAML(typ="safe").load(path.read_text())["mappings"]


def md_sections(text: str) -> dict[str, str]:
    """Mapping name -> its part of the Markdown (up to the next level-2 or -3 heading)."""
    parts = re.split(r"\n(?=##{1,2} )", text)
    found = {}
    for part in parts:
        m = re.match(r"### Mapping (\w+): ", part)
        if m:
            found[m[1]] = part
    return found


def field_rows(section: str) -> list[list[str]]:
    """Rows of the field tables (seven cells, the first a column name in backticks)."""
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 7 and re.fullmatch(r"`[a-z0-9_]+`", cells[0]):
            rows.append(cells)
    return rows


def test_every_mapping_and_field_is_in_both_documents(clinic):
    _, files, plain, _ = clinic
    for written in (files, plain):
        md = written["markdown"].read_text()
        html = written["html"].read_text()
        sections = md_sections(md)
        for m in yaml_mappings():
            name = m.get("name", m["target"])
            assert name in sections, name
            expected = list(m["fields"])
            for v in m.get("variants", []):
                expected += list(v["fields"])
            got = [row[0].strip("`") for row in field_rows(sections[name])]
            assert got == expected, name
            for s in m.get("sections", []):
                assert f"Section {m['sections'].index(s) + 1}: {s['title']}" in sections[name]
            # The HTML carries the same heading and a code cell per field.
            head = re.search(rf"<h3 id=\"[^\"]+\">Mapping {name}: ", html)
            assert head, name
            part = html[head.end() :].split("<h3 ", 1)[0].split("<h2 ", 1)[0]
            cells = re.findall(r"<tr><td><code>([a-z0-9_]+)</code></td><td>", part)
            for f in expected:
                assert f in cells, (name, f)
        assert md.count("### Mapping ") == len(yaml_mappings())


def test_missing_rationales_are_marked(clinic):
    _, files, _, _ = clinic
    sections = md_sections(files["markdown"].read_text())
    for m in yaml_mappings():
        specs = list(m["fields"].values())
        for v in m.get("variants", []):
            specs += list(v["fields"].values())
        missing = sum(isinstance(s, str) or not s.get("rationale") for s in specs)
        rows = field_rows(sections[m.get("name", m["target"])])
        assert sum(r[6] == "**⚠ no rationale given**" for r in rows) == missing
    html = files["html"].read_text()
    assert 'class="missing"' in html and "no rationale given" in html


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained(clinic):
    _, files, plain, _ = clinic
    for html in (files["html"].read_text(), plain["html"].read_text()):
        parser = _Refs()
        parser.feed(html)
        names = {t for t, _ in parser.tags}
        assert "script" not in names and "link" not in names and "img" not in names
        for _, attrs in parser.tags:
            for key in ("src", "href"):
                value = attrs.get(key) or ""
                assert not re.match(r"(https?:)?//", value), (key, value)
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
        assert "@import" not in html


def _coverage_row(md: str, table: str, column: str) -> list[str]:
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 9 and cells[0] == table and cells[1] == f"`{column}`":
            return cells
    raise AssertionError(f"no coverage row for {table}.{column}")


def test_coverage_in_the_document_equals_code_coverage(clinic):
    ws, files, plain, _ = clinic
    md = files["markdown"].read_text()
    with open_snapshot(ws.snapshots_dir, "s").connect() as con:
        for name, (table, column) in CODE_COLUMNS.items():
            xw = find_crosswalk(ws.mappings_dir, name)
            cov = code_coverage(con, xw, table, quote_ident(column))
            row = _coverage_row(md, table, column)
            numbers = [int(c.replace(",", "")) for i, c in enumerate(row[2:], 2) if i not in (4, 7)]
            assert numbers == [
                cov.distinct_codes, cov.distinct_translated, cov.rows_with_code,
                cov.rows_translated, cov.rows_without_code,
            ]  # fmt: skip
            assert (row[4], row[7]) == (fmt_pct(cov.distinct_coverage), fmt_pct(cov.row_coverage))
            # Unmapped codes: every one seen at least min_cell_count times, with its rows.
            shown = re.findall(r"^\| `([^`]+)` \| [^|]* \| ([\d,]+) \|$", md, re.M)
            shown = {c: int(n.replace(",", "")) for c, n in shown}
            for code, _, rows in cov.unmapped:
                if rows >= ws.min_cell_count:
                    assert shown.get(code) == rows, (name, code)
    assert "Counted only with a snapshot" in plain["markdown"].read_text()


def test_accounting_in_the_document_equals_the_projection(clinic):
    _, files, _, accounting = clinic
    md = files["markdown"].read_text()
    part = md.split("## Accounting", 1)[1]
    for a in accounting:
        cells = [a["mapping"], a["source_table"]]
        cells += [f"{a[k]:,}" for k in ("source_rows", "loaded", "excluded", "parked")]
        assert "| " + " | ".join([*cells, "yes"]) + " |" in part
        assert a["source_rows"] == a["loaded"] + a["excluded"] + a["parked"]


def test_xw_calls_are_parsed_around_strings_and_nesting():
    expr = "coalesce(xw('a', trim(t.X, ',')), xw( 'b' , \"t\".Y)) || 'xw(''c'', d)'"
    assert docs.xw_calls(expr) == [("a", "trim(t.X, ',')"), ("b", '"t".Y')]
    assert docs.xw_calls("xw_display('a', x)") == []


def run(*args: str, user: str = "analyst") -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_USER": user, "COLUMNS": "200"}
    return subprocess.run([WORKBENCH, *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_docs_prints_the_written_paths(clinic, tmp_path):
    ws, *_ = clinic
    result = run(
        "map", "docs", "ohm", "--snapshot", "s", "--out", str(tmp_path), "-w", str(ws.root)
    )
    assert result.returncode == 0, result.stderr
    paths = [Path(p) for p in result.stdout.split()]
    assert [p.name for p in paths] == ["ohm-etl-spec.md", "ohm-etl-spec.html"]
    assert all(p.is_file() and p.parent == tmp_path for p in paths)


def test_map_sql_runs_in_a_fresh_connection_over_the_snapshot(clinic):
    ws, *_ = clinic
    result = run("map", "sql", "ohm", "--snapshot", "s", "-w", str(ws.root))
    assert result.returncode == 0, result.stderr
    script = result.stdout
    assert script.startswith("-- template ohm -> model ehr")
    snap = open_snapshot(ws.snapshots_dir, "s")
    with duckdb.connect(str(snap.staging_path), read_only=True) as con:
        con.execute(script)
        loaded = con.execute("SELECT count(*) FROM _wb_target_patient").fetchall()[0][0]
        fates = con.execute("SELECT count(*) FROM _wb_m_immunization").fetchall()[0][0]
    with snap.connect() as con:
        projection = project(con, workflow.compile_loaded(workflow.load(ws, "ohm"), con))
        assert loaded == projection.target_counts()["patient"] > 0
        assert fates == con.execute("SELECT count(*) FROM immunization").fetchall()[0][0]
    # Without a snapshot the script still compiles.
    plain = run("map", "sql", "ohm", "-w", str(ws.root))
    assert plain.returncode == 0 and "CREATE OR REPLACE TEMP TABLE" in plain.stdout


def test_map_check_balances_and_lists_the_rules(clinic):
    ws, _, _, accounting = clinic
    result = run("map", "check", "ohm", "--snapshot", "s", "--json", "-w", str(ws.root))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [(a["mapping"], a["source_rows"]) for a in found["accounting"]] == [
        (a["mapping"], a["source_rows"]) for a in accounting
    ]
    assert all(a["balanced"] for a in found["accounting"])
    assert found["rules"] and all(r["fate"] in ("excluded", "parked") for r in found["rules"])
    shown = run("map", "check", "ohm", "--snapshot", "s", "-w", str(ws.root))
    assert shown.returncode == 0 and "accounting" in shown.stdout and "references:" in shown.stdout


def test_map_check_exits_1_when_a_source_table_does_not_balance(clinic):
    # A key that is not unique counts several source rows as one: they cannot add up.
    ws, *_ = clinic
    (ws.mappings_dir / "templates").mkdir(exist_ok=True)
    (ws.mappings_dir / "templates" / "badkey.yaml").write_text(
        "template: badkey\ntarget: ehr\nrationale: a key that is not unique\nmappings:\n"
        "  - {name: patient, target: patient, source: demographics, key: SEX, rationale: bad,\n"
        "     fields: {patient_id: \"'x-' || EMP_ID\", identifier: CAST(EMP_ID AS VARCHAR)}}\n"
    )
    result = run("map", "check", "badkey", "--snapshot", "s", "-w", str(ws.root))
    assert result.returncode == 1
    assert "source table demographics does not balance" in result.stderr


def test_modules_search_finds_the_immunization_mappings():
    hits = {h.module: h for h in modules.search(None, "immunization")}
    assert "ohm" in hits
    assert "immunization: immunization -> immunization" in hits["ohm"].matches
    for m in modules.modules(None):  # every module that maps immunizations is found
        t = m.template
        if t and any("immuniz" in x.lower() for x in [*modules.reads(t), *t.targets()]):
            assert m.name in hits
    result = run("modules", "search", "Immunization", "--json")
    assert result.returncode == 0, result.stderr
    found = {h["module"]: h for h in json.loads(result.stdout)}
    assert "immunization: immunization -> immunization" in found["ohm"]["matches"]
    listed = CliRunner().invoke(app, ["modules", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "ohm" in {m["module"] for m in json.loads(listed.stdout)}
    none = CliRunner().invoke(app, ["modules", "search", "no-such-concept-xyz"])
    assert none.exit_code == 0 and "no module matches" in none.stdout
