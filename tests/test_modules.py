"""The built-in mapping modules (ohm, medgate, synthea) over the data they are written for:
every source row ends in exactly one fate, the rows that cannot load are exactly the ones the
generator made unloadable, and the printed SQL script runs on DuckDB by itself."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from workbench import workspace
from workbench.jobs import gates
from workbench.mapping import workflow
from workbench.mapping.projection import Projection, project
from workbench.snapshot import acquire
from workbench.sources import from_config, open_source
from workbench.synth import generate

SYNTHEA = Path(__file__).parent / "fixtures" / "synthea27"
STYLES = ("ohm", "medgate")
FATES = ("loaded", "excluded", "parked")


@dataclass
class Run:
    ws: workspace.Workspace
    staging: Path  # the snapshot's DuckDB file
    tables: list[str]  # the snapshot's tables, from its acquisition manifest
    projection: Projection
    truth: dict | None = None  # the generator's synth-manifest.json


def _project(ws: workspace.Workspace, ref: str, staging: Path) -> Projection:
    con = duckdb.connect(str(staging), read_only=True)
    return project(con, workflow.compile_loaded(workflow.load(ws, ref), con))


@pytest.fixture(scope="module", params=STYLES)
def clinic(request, tmp_path_factory) -> Run:
    """A synthetic clinic (default dirt), acquired and projected once per style."""
    style = request.param
    root = tmp_path_factory.mktemp(style)
    generate(style=style, people=1500, seed=7, fmt="mysqldump", out=root / "data")
    truth = json.loads((root / "data" / "synth-manifest.json").read_text())
    ws = workspace.init(root / "ws")
    source = from_config(
        "clinic", {"kind": "mysqldump", "path": str(root / "data" / f"{style}.sql")}, ws
    )
    result = acquire(source, ws.snapshots_dir, "s")
    staging = result.path / "staging.duckdb"
    tables = [t.name for t in result.manifest.tables]
    return Run(ws, staging, tables, _project(ws, style, staging), truth)


@pytest.fixture(scope="module")
def synthea(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("synthea")
    ws = workspace.init(root / "ws")
    with (root / "ws" / "workbench.toml").open("a") as f:
        f.write(f'\n[sources.synthea]\nkind = "csv"\npath = {json.dumps(str(SYNTHEA))}\n')
    ws = workspace.load(root / "ws")

    result = acquire(open_source(ws, "synthea"), ws.snapshots_dir, "s")
    staging = result.path / "staging.duckdb"
    tables = [t.name for t in result.manifest.tables]
    return Run(ws, staging, tables, _project(ws, "synthea", staging))


def _accounting(p: Projection) -> list[dict]:
    return p.accounting().to_dicts()


def _one_fate_per_row(p: Projection) -> None:
    for cm in p.compiled.mappings:
        (split,) = p.con.execute(
            f'SELECT count(*) FROM (SELECT _source_table, _source_key FROM "{cm.rows_table}" '
            "GROUP BY ALL HAVING count(DISTINCT _fate) > 1)"
        ).fetchall()[0]
        assert split == 0, f"{cm.name}: {split} source rows with more than one fate"


def _parked_per_table(p: Projection) -> dict[str, int]:
    """Source rows parked by any mapping, each counted once (clinicvisit and immunizations
    feed several mappings; an orphan row parks in each of them)."""
    union = " UNION ALL ".join(
        f"SELECT _source_table, _source_key FROM \"{cm.rows_table}\" WHERE _fate = 'parked'"
        for cm in p.compiled.mappings
    )
    rows = p.con.execute(
        f"SELECT _source_table, count(DISTINCT _source_key) FROM ({union}) GROUP BY 1"
    ).fetchall()
    return dict(rows)


# -- 1. the synthetic clinic, both styles ---------------------------------------------------


def test_every_source_row_has_exactly_one_fate(clinic: Run):
    con = duckdb.connect(str(clinic.staging), read_only=True)
    try:
        for row in _accounting(clinic.projection):
            table = row["source_table"]
            # Counted independently of the projection: the snapshot and the generator agree.
            (counted,) = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0]
            assert counted == clinic.truth["tables"][table]["rows"], table
            assert row["source_rows"] == counted, row
            assert counted == sum(row[f] for f in FATES), row
    finally:
        con.close()
    _one_fate_per_row(clinic.projection)


def test_every_snapshot_table_is_mapped(clinic: Run):
    mapped = set(clinic.projection.compiled.template.source_tables())
    assert set(clinic.tables) <= mapped, set(clinic.tables) - mapped
    assert set(clinic.tables) == set(clinic.truth["tables"])


def test_parked_rows_are_the_generators_unloadable_rows(clinic: Run):
    # The manifest counts orphans and the rows under them (cascade, e.g. a vitals row whose
    # appointment is an orphan): exactly what the references:* rules park.
    expected = clinic.truth["expected"]["unloadable_rows"]["tables"]
    parked = _parked_per_table(clinic.projection)
    assert {t: parked.get(t, 0) for t in expected} == expected


def test_duplicate_registrations_are_the_only_exclusions_of_patient(clinic: Run):
    fates = clinic.projection.fates()
    patient = fates.filter(fates["mapping"] == "patient")
    excluded = patient.filter(patient["fate"] == "excluded")
    assert excluded["rule"].to_list() == ["duplicate_registration"]
    assert excluded["rows"].sum() == clinic.truth["dirt"]["duplicate_people"]["rows"]
    assert patient.filter(patient["fate"] == "parked").height == 0


def test_only_orphans_park(clinic: Run):
    fates = clinic.projection.fates()
    rules = set(fates.filter(fates["fate"] == "parked")["rule"].to_list())
    assert rules and all(r.startswith("references:") for r in rules), rules


@pytest.mark.parametrize("clinic", ["medgate"], indirect=True)
def test_medgate_immunizations_split_into_vaccines_and_tb_tests(clinic: Run):
    # Medgate keeps TB skin and blood tests in its immunizations table.
    acc = {r["mapping"]: r for r in _accounting(clinic.projection)}
    vaccines, tests = acc["immunization"], acc["tb_tests"]
    rows = clinic.truth["tables"]["immunizations"]["rows"]
    unloadable = clinic.truth["expected"]["unloadable_rows"]["tables"]["immunizations"]
    # Each row loads in exactly one of the two mappings and is excluded by the other.
    assert vaccines["loaded"] + tests["loaded"] + unloadable == rows
    assert vaccines["excluded"] + tests["excluded"] == rows
    codes = clinic.truth["dirt"]["local_codes"]["immunizations"]["ImmunizationCode"]["rows"]
    tb_rows = sum(n for code, n in codes.items() if code in ("PPD", "QFT", "TSPOT"))
    assert tests["loaded"] + tests["parked"] == tb_rows


def test_quality_gates_pass_on_the_synthetic_clinic(clinic: Run):
    failing = gates.failing(gates.evaluate(clinic.projection))
    assert not failing, [gates.describe(g) for g in failing]


# -- 2. Synthea ------------------------------------------------------------------------------


def _csv(name: str) -> list[dict[str, str]]:
    with (SYNTHEA / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_synthea_target_counts_match_the_csv_files(synthea: Run):
    observations = _csv("observations")
    simulation = [
        r for r in observations if not r["CATEGORY"] and r["CODE"] in ("QALY", "DALY", "QOLS")
    ]
    history = {
        r["PATIENT"]
        for name in ("careplans", "procedures", "devices", "imaging_studies")
        for r in _csv(name)
    }
    expected = {
        "patient": len(_csv("patients")),
        "encounter": len(_csv("encounters")),
        "observation": len(observations) - len(simulation),
        "immunization": len(_csv("immunizations")),
        "medication_statement": len(_csv("medications")),
        "condition": len(_csv("conditions")),
        "allergy": len(_csv("allergies")),
        "document": len(history),
    }
    assert synthea.projection.target_counts() == expected
    assert 0 < len(simulation) < len(observations)


def test_synthea_accounting_balances_and_nothing_parks(synthea: Run):
    for row in _accounting(synthea.projection):
        assert row["source_rows"] == len(_csv(row["source_table"])), row
        assert row["source_rows"] == sum(row[f] for f in FATES), row
        assert row["parked"] == 0, row
    fates = synthea.projection.fates()
    excluded = fates.filter(fates["fate"] == "excluded")
    assert excluded["rule"].to_list() == ["simulation_metric"]
    _one_fate_per_row(synthea.projection)
    # Every field that parses or translates read what it was given.
    checks = synthea.projection.field_checks()
    assert checks.height == 0 or checks["failed"].sum() == 0, checks


def test_synthea_values_conform_to_the_model(synthea: Run):
    def values(sql: str) -> list:
        return [r[0] for r in synthea.projection.con.execute(sql).fetchall()]

    categories = values("SELECT DISTINCT category FROM _wb_target_observation")
    assert set(categories) <= {"vital-signs", "laboratory", "survey", "pulmonary-function"}
    # SNOMED CT diagnoses load as SNOMED CT: no value set forces them into ICD-10.
    systems = values("SELECT DISTINCT code_system FROM _wb_target_condition")
    assert systems == ["http://snomed.info/sct"]
    assert values("SELECT count(*) FROM _wb_target_encounter WHERE class_code IS NULL") == [0]
    # Numeric results are numbers, coded results text; never both, never neither.
    both_or_neither = values(
        "SELECT count(*) FROM _wb_target_observation "
        "WHERE (value_quantity IS NULL) = (value_string IS NULL)"
    )
    assert both_or_neither == [0]


def test_quality_gates_pass_on_synthea(synthea: Run):
    failing = gates.failing(gates.evaluate(synthea.projection))
    assert not failing, [gates.describe(g) for g in failing]


# -- 3. the printed script alone runs on DuckDB ----------------------------------------------


def _script_counts(ws: workspace.Workspace, ref: str, staging: Path, out: Path) -> dict:
    script = out / f"{ref}.sql"
    script.write_text(workflow.compile_loaded(workflow.load(ws, ref)).script())
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{staging}' AS snapshot (READ_ONLY)")
        con.execute("USE snapshot")
        con.execute(script.read_text())
        targets = workflow.load(ws, ref).template.targets()
        return {
            t: con.execute(f'SELECT count(*) FROM "_wb_target_{t}"').fetchall()[0][0]
            for t in targets
        }
    finally:
        con.close()


def test_printed_script_runs_alone_on_the_clinic(clinic: Run, tmp_path):
    ref = clinic.truth["style"]
    counts = _script_counts(clinic.ws, ref, clinic.staging, tmp_path)
    assert counts == clinic.projection.target_counts()


def test_printed_script_runs_alone_on_synthea(synthea: Run, tmp_path):
    counts = _script_counts(synthea.ws, "synthea", synthea.staging, tmp_path)
    assert counts == synthea.projection.target_counts()
