"""`workbench demo`, the README's main job, on a small clinic in a fresh workspace: the
synthetic clinic, the published module and the full dress rehearsal into the DuckDB sandbox,
ending in GO with the report's path as the last line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from workbench import demo as demo_mod
from workbench import workspace
from workbench.checklist import ledger
from workbench.cli.app import app
from workbench.mapping import versions
from workbench.snapshot import open_snapshot
from workbench.synth.manifest import SynthManifest

WORKBENCH = str(Path(sys.executable).parent / "workbench")
PEOPLE, SEED = 60, 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One demo run (a whole dress rehearsal, a minute or more), shared by the tests."""
    root = tmp_path_factory.mktemp("demo") / "ws"
    workspace.init(root, name="demo-clinic")
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_WORKSPACE",)}
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # Else every kernel and command the rehearsal starts compiles all it imports.
        env["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("pycache"))
    args = [WORKBENCH, "demo", "--people", str(PEOPLE), "--seed", str(SEED), "-w", str(root)]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    return workspace.load(root), done


def _run_of(ws, done) -> ledger.Run:
    report = Path(done.stdout.strip().splitlines()[-1].removeprefix("report: "))
    return ledger.get_run(ws, report.parent.name)


def test_the_demo_ends_in_go_with_the_reports_path_last(demo):
    ws, done = demo
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("report: ")
    report = Path(last.removeprefix("report: "))
    assert report.name == "index.html" and report.is_file()
    assert report.parent.parent == ws.reports_dir
    assert (report.parent / "checklist.xlsx").is_file()
    run = _run_of(ws, done)
    assert (run.kind, run.checklist, run.target, run.status) == (
        "rehearsal",
        "dress-rehearsal",
        "sandbox",
        "finished",
    )
    assert run.decision["decision"] == "go", run.decision["reasons"]
    assert '<p class="verdict">GO</p>' in report.read_text(encoding="utf-8")
    assert "decision: GO" in done.stdout
    # The flow: synthetic clinic -> acquire -> profile -> map (validate, load) -> reconcile.
    assert [s.step for s in run.steps if s.status == "passed"] == [
        "prepare", "preflight", "acquire", "profile", "validate", "load", "reconcile",
        "internal_verification", "client_validation",
    ]  # fmt: skip
    # The module was published, and the rehearsal ran that version.
    (stamp,) = versions.versions(ws, "template", "ohm")
    assert run.parameters["template"] == stamp.ref == run.decision["template"]
    assert f"published built-in module {stamp.ref}" in done.stdout


def test_the_demos_operator_acknowledges_for_the_synthetic_client_and_says_so(demo):
    ws, done = demo
    run = _run_of(ws, done)
    operator = run.operator
    assert {(a.step, a.user, a.verdict, a.via) for a in run.acks} == {
        ("internal_verification", operator, "go", "auto"),
        ("client_validation", operator, "go", "auto"),
    }
    assert run.decision["signed_off_by"] == operator
    assert f"acknowledged in advance by {operator}, the demo's operator, acting for" in (
        " ".join(done.stdout.split())
    )
    assert "synthetic client" in done.stdout


def test_the_counts_tie_out_from_the_generator_to_the_target(demo):
    ws, done = demo
    run = _run_of(ws, done)
    truth = json.loads((ws.root / "data" / "demo" / "synth-manifest.json").read_text())
    name = demo_mod.snapshot_name("ohm", PEOPLE, SEED)
    assert run.parameters["snapshot"] == name == run.decision["snapshot"]
    manifest = open_snapshot(ws.snapshots_dir, name).manifest
    assert manifest.rows == truth["total_rows"]
    assert {t.name: t.rows for t in manifest.tables} == {
        name: t["rows"] for name, t in truth["tables"].items()
    }
    assert run.step("acquire").counts == {
        "rows": truth["total_rows"],
        "tables": len(truth["tables"]),
        "rejected": 0,
    }
    assert run.step("profile").counts["rows"] == truth["total_rows"]
    assert run.step("load").counts["rows_loaded"] == run.step("validate").counts["rows_to_load"]
    assert run.step("reconcile").counts == {"balanced": 1, "discrepancies": 0}
    assert f"generator manifest: {truth['total_rows']:,} rows; snapshot: " in done.stdout
    # The data migration map the profile step wrote, for the SMEs.
    book = openpyxl.load_workbook(ws.reports_dir / name / "data-migration-map.xlsx", read_only=True)
    assert book.sheetnames[:2] == ["Field Overview", "Table Overview"]
    assert (ws.reports_dir / name / "data-migration-map.html").stat().st_size > 10_000
    # The demo's source was added to the fresh workspace's workbench.toml.
    assert ws.source_configs()["demo_clinic"] == {"kind": "mysqldump", "path": "data/demo/ohm.sql"}


def test_json_output_describes_the_run(demo, monkeypatch):
    """--json, on the result of the run above (the rehearsal is not run again)."""
    ws, done = demo
    run = _run_of(ws, done)
    name = demo_mod.snapshot_name("ohm", PEOPLE, SEED)
    result = demo_mod.DemoResult(
        synth=SynthManifest.read(ws.root / "data" / "demo"),
        source="demo_clinic",
        source_added=False,
        template=versions.versions(ws, "template", "ohm")[-1],
        template_published=False,
        snapshot=name,
        snapshot_created=False,
        operator=run.operator,
        acknowledged=["internal_verification", "client_validation"],
        run=run,
        reports={"html": ws.reports_dir / run.id / "index.html"},
        manifest=open_snapshot(ws.snapshots_dir, name).manifest,
        map_files={},
    )
    monkeypatch.setattr(demo_mod, "run_demo", lambda *a, **k: result)
    shown = CliRunner().invoke(app, ["demo", "--json", "-w", str(ws.root)])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["run"] == run.id and data["decision"]["decision"] == "go"
    assert data["reports"]["html"].endswith(f"{run.id}/index.html")
    assert data["snapshot"]["rows"] == run.step("acquire").counts["rows"]
    assert [s["step"] for s in data["steps"]] == [s.step for s in run.steps]
    assert data["acknowledged_for_the_client"] == ["internal_verification", "client_validation"]
