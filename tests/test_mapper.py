"""The mapper behind notebooks/03_map.ipynb: drafts from templates, names and SME annotations,
previews whose counts agree with plain SQL over the snapshot, and saving guarded by role."""

from __future__ import annotations

import openpyxl
import polars as pl
import pytest

from workbench import workspace
from workbench.audit import AuditLog
from workbench.errors import MappingError, PermissionDenied
from workbench.mapping import workflow
from workbench.mapping.mapper import (
    Mapper,
    MapperPane,
    seed_from_annotations,
    snapshot_or_synthetic,
)
from workbench.mapping.projection import project
from workbench.mapping.template import load_template
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import from_config
from workbench.synth import generate
from workbench.target.model import find_model

USERS = '\n[users]\nanalyst = "migration_engineer"\nonboarder = "onboarding"\n'


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A 300-person OHM clinic acquired as snapshot ``s`` in a workspace with [users]."""
    root = tmp_path_factory.mktemp("mapper")
    generate(style="ohm", people=300, seed=11, fmt="mysqldump", out=root / "data")
    ws = workspace.init(root / "ws")
    with (ws.root / workspace.CONFIG_NAME).open("a") as f:
        f.write(USERS)
    ws = workspace.load(ws.root)
    dump = str(root / "data" / "ohm.sql")
    acquire(from_config("clinic", {"kind": "mysqldump", "path": dump}, ws), ws.snapshots_dir, "s")
    return ws, open_snapshot(ws.snapshots_dir, "s")


def scalar(snap, sql: str) -> int:
    with snap.connect() as con:
        return con.execute(sql).fetchall()[0][0]


def only(draft, **exprs: str):
    """The draft with exactly these fields."""
    for f in draft.fields:
        draft.set(f.column, exprs.get(f.column, ""))
    return draft


def test_preview_counts_equal_plain_sql_over_the_snapshot(clinic):
    ws, snap = clinic
    mapper = Mapper(ws, snap, None)
    draft = only(
        mapper.draft("demographics", "patient"),
        patient_id="'t-' || EMP_ID",
        identifier="CAST(EMP_ID AS VARCHAR)",
        family_name="trim_text(LASTNAME)",
        given_name="trim_text(FIRSTNAME)",
    )
    preview = mapper.preview(draft)
    rows = scalar(snap, "SELECT count(*) FROM demographics")
    fields = {r["field"]: r for r in preview.fields.iter_rows(named=True)}
    assert set(fields) == {"patient_id", "identifier", "family_name", "given_name"}
    for column, source in (("family_name", "LASTNAME"), ("given_name", "FIRSTNAME")):
        nulls = scalar(
            snap,
            f"SELECT count(*) FROM demographics WHERE nullif(trim(CAST({source} AS VARCHAR)), '') "
            "IS NULL",
        )
        assert (fields[column]["rows"], fields[column]["nulls"]) == (rows, nulls)
    assert fields["patient_id"]["nulls"] == 0
    assert preview.fates["rows"].sum() == rows  # nothing filtered: every row loads or parks
    assert preview.rows.height == 20
    assert preview.rows.columns[:3] == ["source_key", "fate", "rule"]
    assert preview.included == [] and preview.unchecked == []


def test_failed_parses_are_counted(clinic):
    ws, snap = clinic
    mapper = Mapper(ws, snap, None)
    draft = only(
        mapper.draft("demographics", "patient"),
        patient_id="'t-' || EMP_ID",
        identifier="CAST(EMP_ID AS VARCHAR)",
        birth_date="CAST(try_strptime(null_sentinel(DOB), '%Y-%m-%d') AS DATE)",
    )
    fields = {r["field"]: r for r in mapper.preview(draft).fields.iter_rows(named=True)}
    failed = scalar(
        snap,
        "SELECT count(*) FROM demographics WHERE try_strptime(CASE WHEN trim(DOB) IN "
        "('', 'NULL', 'N/A', 'NA', 'null', 'n/a', '0000-00-00', '00/00/0000') THEN NULL "
        "ELSE trim(DOB) END, '%Y-%m-%d') IS NULL AND trim(DOB) NOT IN "
        "('', 'NULL', 'N/A', 'NA', 'null', 'n/a', '0000-00-00', '00/00/0000')",
    )
    assert failed > 0  # the synthetic clinic writes DOB in several formats
    assert (fields["birth_date"]["check"], fields["birth_date"]["failed_parses"]) == (
        "parse",
        failed,
    )


def test_a_draft_from_the_template_previews_like_the_template(clinic):
    ws, snap = clinic
    mapper = Mapper(ws, snap, "ohm")
    draft = mapper.draft("appointments", "encounter")
    assert draft.name == "encounter" and draft.key == "a.APPT_ID"
    assert {f.origin for f in draft.fields if f.expr} == {"template"}
    preview = mapper.preview(draft)
    assert preview.included == ["patient"] and preview.unchecked == []
    with snap.connect() as con:
        full = project(con, workflow.compile_loaded(workflow.load(ws, "ohm"), con))
        expected = full.fates().filter(pl.col("mapping") == "encounter").drop("mapping")
    key = ["fate", "rule"]
    assert preview.fates.sort(key).to_dicts() == expected.sort(key).to_dicts()
    assert "references:patient_id" in preview.fates["rule"].to_list()


def test_a_parent_no_mapping_loads_is_not_checked(clinic):
    ws, snap = clinic
    mapper = Mapper(ws, snap, None)
    draft = only(
        mapper.draft("immunization", "immunization"),
        immunization_id="'t-imm-' || IMMUN_ID",
        patient_id="'t-' || EMP_ID",
        local_code="trim_text(VACCINE_CODE)",
        occurrence_date="parse_date(ADMIN_DATE)",
        status="'completed'",
    )
    preview = mapper.preview(draft)
    assert preview.unchecked == ["references:patient_id"]
    assert not any((r or "").startswith("references:") for r in preview.fates["rule"].to_list())


def test_a_broken_expression_is_a_mapping_error(clinic):
    ws, snap = clinic
    mapper = Mapper(ws, snap, "ohm")
    draft = mapper.draft("demographics", "patient")
    draft.set("family_name", "normalize_name(NO_SUCH_COLUMN)")
    with pytest.raises(MappingError, match="mapping patient"):
        mapper.preview(draft)


def test_suggestions_from_names(clinic):
    ws, snap = clinic
    draft = Mapper(ws, snap, None).draft("demographics", "patient")
    exprs = {f.column: f.expr for f in draft.fields if f.origin == "name"}
    assert exprs["family_name"] == "normalize_name(LASTNAME)"
    assert exprs["birth_date"] == "parse_past_date(DOB)"
    assert exprs["postal_code"] == "trim_text(ZIP)"
    assert draft.key == "EMP_ID"
    gender = draft.field("gender")
    assert "map_value(SEX, 'M=male;F=female;O=other;U=unknown')" in gender.suggestions


def write_map(path, fields: dict[tuple[str, str], dict[str, str]]) -> None:
    """A filled-in data migration map with just the columns read_annotations reads."""
    wb = openpyxl.Workbook()
    tables = wb.active
    tables.title = "Table Overview"
    tables.append(["Table", "Disposition", "Target", "Notes"])
    sheet = wb.create_sheet("Field Overview")
    sheet.append(["Table", "Field", "Disposition", "Target", "Notes"])
    for (table, field), typed in fields.items():
        sheet.append([table, field, *(typed.get(k) for k in ("Disposition", "Target", "Notes"))])
    wb.save(path)


def test_seed_from_annotations(clinic, tmp_path):
    ws, snap = clinic
    path = tmp_path / "filled.xlsx"
    write_map(path, {
        ("demographics", "LASTNAME"): {"Disposition": "discrete",
                                       "Target": "ehr.patient.family_name", "Notes": "surname"},
        ("demographics", "DOB"): {"Target": "patient.birth_date"},
        ("demographics", "SSN"): {"Disposition": "skip", "Notes": "not needed"},
        ("demographics", "DEPT"): {"Disposition": "summary document"},
        ("demographics", "JOBTITLE"): {"Target": "ehr.patient.occupation"},
        ("appointments", "APPT_DATE"): {"Target": "ehr.encounter.period_start"},
    })  # fmt: skip
    model = find_model(ws.mappings_dir)
    seed = seed_from_annotations(path, "demographics", "patient", model)
    assert seed.fields == {"family_name": "normalize_name(LASTNAME)",
                           "birth_date": "parse_past_date(DOB)"}  # fmt: skip
    assert seed.rationales["family_name"].startswith("SMEs: surname")
    assert (seed.skipped, seed.summary) == (["SSN"], ["DEPT"])
    assert len(seed.unplaced) == 1 and "occupation" in seed.unplaced[0]
    other = seed_from_annotations(path, "appointments", "encounter", model)
    assert other.fields == {"period_start": "CAST(parse_date(APPT_DATE) AS TIMESTAMP)"}

    mapper = Mapper(ws, snap, None, map_xlsx=path)
    draft = mapper.draft("demographics", "patient")
    assert (draft.field("family_name").origin, draft.field("family_name").expr) == (
        "annotation", "normalize_name(LASTNAME)",
    )  # fmt: skip
    assert any("SSN" in n for n in draft.notes)
    # A template's own mapping wins over the annotations.
    assert (
        Mapper(ws, snap, "ohm", map_xlsx=path)
        .draft("demographics", "patient")
        .field("family_name")
        .origin
        == "template"
    )


def test_saving_is_refused_for_onboarding(clinic, monkeypatch):
    ws, snap = clinic
    monkeypatch.setenv("WORKBENCH_USER", "onboarder")
    mapper = Mapper(ws, snap, "ohm")
    draft = mapper.draft("demographics", "patient")
    with pytest.raises(PermissionDenied, match="onboarder"):
        mapper.save(draft, "refused")
    assert not (ws.mappings_dir / "templates" / "refused.yaml").exists()
    refusals = [e for e in AuditLog(ws).entries() if e.get("outcome") == "refused"]
    assert refusals and refusals[-1]["details"]["what"] == "refused"
    # In the pane the refusal is a message, not a traceback.
    pane = MapperPane(mapper, "demographics", "patient", "refused")
    assert pane._on_save() is None
    assert "may not edit_template" in pane.status.value
    assert not (ws.mappings_dir / "templates" / "refused.yaml").exists()


def test_saving_as_migration_engineer_writes_a_template_that_loads(clinic, monkeypatch):
    ws, snap = clinic
    monkeypatch.setenv("WORKBENCH_USER", "analyst")
    mapper = Mapper(ws, snap, "ohm")
    draft = mapper.draft("demographics", "patient")
    draft.set("middle_name", "upper(trim_text(MI))")
    path = mapper.save(draft, "clinic")
    assert path == ws.mappings_dir / "templates" / "clinic.yaml"
    saved = load_template(path)
    assert saved.name == "clinic"
    patient = saved.mapping("patient")
    assert {f.name: f.expr for f in patient.fields}["middle_name"] == "upper(trim_text(MI))"
    assert [m.name for m in saved.mappings] == [m.name for m in mapper.base.template.mappings]
    # Everything else is the base template as written, comments included.
    base = mapper.base.resolved.path.read_text().splitlines()
    changed = [a for a, b in zip(base, path.read_text().splitlines(), strict=True) if a != b]
    assert len(changed) == 2  # the template's name and the edited field
    # It is a workspace draft now: it resolves, compiles and projects.
    with snap.connect() as con:
        project(con, workflow.compile_loaded(workflow.load(ws, "clinic"), con))
    # A draft without a base template is a one-mapping template.
    fresh = Mapper(ws, snap, None)
    path = fresh.save(fresh.draft("demographics", "patient"), "fresh")
    assert [m.name for m in load_template(path).mappings] == ["patient"]


def test_the_pane_previews_and_switches_tables(clinic):
    ws, snap = clinic
    pane = MapperPane(Mapper(ws, snap, "ohm"), "demographics", "patient", "x")
    assert pane.boxes["family_name"].value == "normalize_name(LASTNAME)"
    found = pane._on_preview()
    assert found is not None and found.rows.height == 20
    pane.target.value = "observation"
    pane.source.value = "vitals"
    assert pane.key.value == "v.VITALS_ID"
    assert "code" not in pane.boxes  # set by the variants, not editable here
    pane.boxes["effective_date"].value = "parse_date(v.NO_SUCH)"
    assert pane._on_preview() is None and "NO_SUCH" in pane.status.value


def test_a_missing_snapshot_becomes_a_cached_synthetic_one(clinic, tmp_path, monkeypatch):
    import tempfile

    ws, _ = clinic
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = sorted(p.name for p in ws.snapshots_dir.iterdir())
    snap = snapshot_or_synthetic(ws, "demo-ohm-40-s3", people=40)
    assert snap.name == "demo-ohm-40-s3" and tmp_path in snap.path.parents
    assert "demographics" in {t.name for t in snap.manifest.tables}
    assert sorted(p.name for p in ws.snapshots_dir.iterdir()) == before  # workspace untouched
    again = snapshot_or_synthetic(ws, "demo-ohm-40-s3", people=40)
    assert again.path == snap.path and again.manifest.fingerprint == snap.manifest.fingerprint
    assert [p.name for p in (tmp_path / "workbench-mapper").iterdir()] == ["demo-ohm-40-s3-40"]
    assert snapshot_or_synthetic(ws, "s").path == ws.snapshots_dir / "s"  # a real one wins
