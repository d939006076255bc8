"""Published versions of templates and crosswalks: immutable, stamped, diffable, guarded."""

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench import workspace
from workbench.audit import AuditLog
from workbench.cli import app
from workbench.errors import MappingError, PermissionDenied
from workbench.mapping import versions as mv

WORKBENCH = str(Path(sys.executable).parent / "workbench")
USERS = '\n[users]\nanalyst = "migration_engineer"\nonboarder = "onboarding"\n'
DRAFT_V1 = """\
template: clinic
title: Test clinic to ehr
target: ehr
rationale: a small template for tests
mappings:
  - name: patient
    target: patient
    source: demographics
    key: EMP_ID
    fields:
      patient_id: {expr: "'clinic-' || EMP_ID", rationale: stable id}
"""
DRAFT_V2 = DRAFT_V1.replace("'clinic-' || EMP_ID", "'clinic-' || trim_text(EMP_ID)")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    root = tmp_path / "ws"
    workspace.init(root, name="test-clinic")
    with (root / workspace.CONFIG_NAME).open("a") as f:
        f.write(USERS)
    (root / "mappings" / "templates").mkdir(parents=True)
    (root / "mappings" / "templates" / "clinic.yaml").write_text(DRAFT_V1)
    monkeypatch.setenv("WORKBENCH_USER", "analyst")
    return workspace.load(root)


def draft(ws) -> Path:
    return ws.mappings_dir / "templates" / "clinic.yaml"


def published(ws) -> list[str]:
    return sorted(p.name for p in (ws.mappings_dir / "published" / "templates").iterdir())


def cli(ws, *args, user="analyst"):
    env = {**os.environ, "WORKBENCH_USER": user}
    return subprocess.run(
        [WORKBENCH, *args, "-w", str(ws.root)], capture_output=True, text=True, env=env, timeout=60
    )


def test_parse_ref():
    assert mv.parse_ref("ohm") == ("ohm", None)
    assert mv.parse_ref("ohm@v2") == ("ohm", "v2")
    assert mv.parse_ref("vaccine_cvx@latest") == ("vaccine_cvx", "latest")
    for bad in ("", "ohm@2", "ohm@v0", "ohm@v", "../etc@v1", "a@v1@v2", "ohm@V1"):
        with pytest.raises(MappingError):
            mv.parse_ref(bad)


def test_publish_edit_publish_and_unchanged(ws):
    assert mv.draft_status(ws, "template", "clinic") == "draft v1 (never published)"
    v1 = mv.publish(ws, "template", "clinic")
    assert (v1.ref, v1.new, v1.publisher, v1.role) == (
        "clinic@v1",
        True,
        "analyst",
        "migration_engineer",
    )
    assert v1.draft_path == "mappings/templates/clinic.yaml"
    assert mv.draft_status(ws, "template", "clinic") == "v1 published; draft unchanged"

    draft(ws).write_text(DRAFT_V2)
    assert mv.draft_status(ws, "template", "clinic") == "draft v2 (edited since v1)"
    v2 = mv.publish(ws, "template", "clinic")
    assert (v2.version, v2.new) == ("v2", True)

    before = published(ws)
    again = mv.publish(ws, "template", "clinic")
    assert (again.version, again.new) == ("v2", False)
    assert published(ws) == before
    assert [s.version for s in mv.versions(ws, "template", "clinic")] == ["v1", "v2"]

    publishes = [e for e in AuditLog(ws).entries() if e["action"] == "publish"]
    assert [e["template"]["ref"] for e in publishes] == ["clinic@v1", "clinic@v2", "clinic@v2"]
    assert publishes[-1]["details"]["unchanged"] is True
    assert publishes[1]["template"]["sha256"] == v2.sha256


def test_published_file_is_read_only_and_matches_its_stamp(ws):
    v1 = mv.publish(ws, "template", "clinic")
    path = ws.mappings_dir / "published" / "templates" / "clinic@v1.yaml"
    stamp_path = path.with_name("clinic@v1.stamp.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert stat.S_IMODE(stamp_path.stat().st_mode) == 0o444
    stamp = json.loads(stamp_path.read_text())
    assert stamp["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() == v1.sha256
    assert stamp["version"] == "v1" and stamp["kind"] == "template"
    assert path.read_text() == DRAFT_V1
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_resolve_draft_version_and_latest(ws):
    mv.publish(ws, "template", "clinic")
    draft(ws).write_text(DRAFT_V2)
    mv.publish(ws, "template", "clinic")
    assert mv.resolve(ws, "template", "clinic").path == draft(ws)
    assert mv.resolve(ws, "template", "clinic@v1").path.read_text() == DRAFT_V1
    latest = mv.resolve(ws, "template", "clinic@latest")
    assert (latest.version, latest.ref) == ("v2", "clinic@v2")
    with pytest.raises(
        MappingError, match=r"clinic@v7.yaml: no such version .*\(published: v1, v2\)"
    ):
        mv.resolve(ws, "template", "clinic@v7")
    with pytest.raises(MappingError, match="no template nope"):
        mv.resolve(ws, "template", "nope")


def test_edited_published_file_is_refused_and_audited(ws):
    mv.publish(ws, "template", "clinic")
    path = ws.mappings_dir / "published" / "templates" / "clinic@v1.yaml"
    path.chmod(0o644)
    path.write_text(DRAFT_V2)
    with pytest.raises(MappingError) as caught:
        mv.resolve(ws, "template", "clinic@v1")
    message = str(caught.value)
    assert message.startswith("mappings/published/templates/clinic@v1.yaml: edited after it was")
    assert "≠ stamped" in message and message.endswith("edit the draft and publish v2")
    assert "\n" not in message
    last = list(AuditLog(ws).entries())[-1]
    assert (last["action"], last["outcome"]) == ("use", "refused")
    assert last["template"]["ref"] == "clinic@v1"
    assert AuditLog(ws).verify().ok


def test_onboarding_cannot_publish(ws, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "onboarder")
    with pytest.raises(PermissionDenied, match="may not publish_template clinic"):
        mv.publish(ws, "template", "clinic")
    assert not (ws.mappings_dir / "published").exists()
    (entry,) = AuditLog(ws).entries()
    assert (entry["user"], entry["outcome"]) == ("onboarder", "refused")


def test_onboarding_cannot_publish_through_the_cli(ws):
    result = cli(ws, "map", "publish", "clinic", user="onboarder")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: user onboarder (onboarding) may not")
    (entry,) = AuditLog(ws).entries()
    assert entry["outcome"] == "refused"


def test_cli_publish_versions_diff_status(ws):
    # In-process (the subprocess test above covers the error edge): fast, same commands.
    def run(*args):
        result = CliRunner().invoke(app, [*args, "-w", str(ws.root)], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.stdout

    assert "published clinic@v1" in run("map", "publish", "clinic")
    draft(ws).write_text(DRAFT_V2)
    assert run("map", "status", "clinic") == "clinic: draft v2 (edited since v1)\n"
    assert "published clinic@v2" in run("map", "publish", "clinic")
    assert "nothing new published" in run("map", "publish", "clinic")
    listed = json.loads(run("map", "versions", "clinic", "--json"))
    assert [v["version"] for v in listed] == ["v1", "v2"]
    assert "clinic@v2" in run("map", "versions", "clinic")
    shown = run("map", "diff", "clinic", "v1", "v2")
    assert "+      patient_id: {expr: \"'clinic-' || trim_text(EMP_ID)\"" in shown
    assert "identical" in run("map", "diff", "clinic", "v2", "draft")


def test_diff_shows_the_changed_line_and_who_published(ws):
    mv.publish(ws, "template", "clinic")
    draft(ws).write_text(DRAFT_V2)
    mv.publish(ws, "template", "clinic")
    text = mv.diff(ws, "template", "clinic", "v1", "v2")
    lines = text.splitlines()
    assert lines[0].startswith("--- clinic@v1  sha256 ") and "published by analyst" in lines[0]
    assert lines[1].startswith("+++ clinic@v2  sha256 ")
    assert "-      patient_id: {expr: \"'clinic-' || EMP_ID\", rationale: stable id}" in lines
    assert mv.diff(ws, "template", "clinic", "v2", "draft") == ""
    draft(ws).write_text(DRAFT_V2 + "gates: {completeness: 0.99}\n")
    assert "+gates: {completeness: 0.99}" in mv.diff(ws, "template", "clinic", "latest", "draft")


def test_save_draft_requires_edit_template(ws, monkeypatch):
    path = mv.save_draft(ws, "intake", "template: intake\n")
    assert path == ws.mappings_dir / "templates" / "intake.yaml"
    assert path.read_text() == "template: intake\n"
    assert list(AuditLog(ws).entries())[-1]["action"] == "save_draft"
    monkeypatch.setenv("WORKBENCH_USER", "onboarder")
    with pytest.raises(PermissionDenied, match="may not edit_template intake"):
        mv.save_draft(ws, "intake", "template: changed\n")
    assert path.read_text() == "template: intake\n"


def test_crosswalk_versions(ws):
    folder = ws.mappings_dir / "crosswalks"
    folder.mkdir(parents=True)
    (folder / "vaccine_cvx.csv").write_text("source_code,target_code\nFLU,140\n")
    stamp = mv.publish(ws, "crosswalk", "vaccine_cvx")
    assert stamp.path == ws.mappings_dir / "published" / "crosswalks" / "vaccine_cvx@v1.csv"
    assert mv.resolve(ws, "crosswalk", "vaccine_cvx@v1").sha256 == stamp.sha256
    last = list(AuditLog(ws).entries())[-1]
    assert last["details"]["crosswalk"]["ref"] == "vaccine_cvx@v1"
