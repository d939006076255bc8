"""The checklist engine: definitions, the run ledger, and runs of real notebooks (papermill),
commands and manual acknowledgements. Every papermill execution starts a kernel (3-5 s), so
the notebook runs are few and shared between tests."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from workbench import workspace
from workbench.audit import AuditLog
from workbench.checklist import ChecklistError, definitions, ledger, manual_step, record
from workbench.checklist import notebook_step as notebook_step_mod
from workbench.checklist.context import StepContext
from workbench.checklist.definitions import load_checklist, read_checklist, substitute
from workbench.checklist.runner import run_checklist, run_parameters
from workbench.cli.app import app
from workbench.errors import PermissionDenied
from workbench.roles import Actor

USERS = '\n[users]\nanalyst = "migration_engineer"\nsme = "onboarding"\n'
OPERATOR = Actor("analyst", "migration_engineer")
MARKER = "zebra-parameter-7781"  # injected into a notebook; must not reach its HTML
WORKBENCH = Path(sys.executable).parent / "workbench"

HOOK = """\
import os, sys
from workbench.checklist import record
record(os.environ["WORKBENCH_RUN_DIR"], os.environ["WORKBENCH_STEP"],
       outputs={"seen_" + os.environ["WORKBENCH_STEP"]: sys.argv[1]})
print("hook", sys.argv[1], os.environ["WORKBENCH_RUN_ID"], os.environ["WORKBENCH_WORKSPACE"])
"""

PIPELINE = """\
checklist: pipeline
title: A small rehearsal
parameters:
  rows: 3
  marker: unset
steps:
  - id: preflight
    title: Target is up
    kind: command
    run: python hook.py {target}
    planned_minutes: 1
  - id: load
    title: Load and count
    kind: notebook
    notebook: counts.ipynb
    parameters: {rows: "{rows}", marker: "{marker}"}
    planned_minutes: 5
  - id: reconcile
    title: Use the job the notebook made
    kind: command
    run: python hook.py {job_id}
  - id: client_validation
    title: The client validates
    kind: manual
    who: client SME
    planned_minutes: 60
"""

FAILING = """\
checklist: failing
steps:
  - id: shaky
    kind: notebook
    notebook: raises.ipynb
    optional: true
  - id: exits
    kind: notebook
    notebook: exits.ipynb
  - id: after
    kind: command
    run: python hook.py never
"""


def make_ws(root: Path) -> workspace.Workspace:
    workspace.init(root, name="test-clinic")
    with (root / workspace.CONFIG_NAME).open("a") as f:
        f.write(USERS)
    (root / "hook.py").write_text(HOOK)
    return workspace.load(root)


def write_checklist(ws: workspace.Workspace, text: str) -> definitions.Checklist:
    folder = ws.mappings_dir / "checklists"
    folder.mkdir(parents=True, exist_ok=True)
    name = re.search(r"^checklist: (\S+)", text, re.M).group(1)
    (folder / f"{name}.yaml").write_text(text)
    return load_checklist(ws, name)


def write_notebook(path: Path, parameters: str, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def write_notebooks(ws: workspace.Workspace) -> None:
    folder = ws.root / "notebooks"
    standard = 'workspace_dir = None\nrun_id = None\nrun_dir = None\nstep = "load"\n'
    write_notebook(
        folder / "counts.ipynb",
        standard + 'rows = 1\nmarker = "unset"',
        "from workbench.checklist import record\nloaded = rows * 7\nparked = rows - 1",
        'record(run_dir, step, counts={"loaded": loaded, "parked": parked},\n'
        '       outputs={"job_id": f"J{loaded:04d}"})\nprint("loaded", loaded)',
    )
    write_notebook(folder / "passes.ipynb", standard, "print('fine')")
    write_notebook(folder / "raises.ipynb", standard, "print('before')", "raise ValueError('boom')")
    write_notebook(
        folder / "exits.ipynb",
        standard,
        "print('before')",
        "import sys\nsys.exit(0)",
        "print('after')",
    )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """One end-to-end run of PIPELINE (one papermill execution), shared by several tests."""
    ws = make_ws(tmp_path_factory.mktemp("pipeline") / "ws")
    write_notebooks(ws)
    checklist = write_checklist(ws, PIPELINE)
    run = run_checklist(
        ws,
        checklist,
        "sandbox",
        {"rows": 6, "marker": MARKER},
        OPERATOR,
        "rehearsal",
        auto_ack={"client_validation": "sme"},
    )
    return ws, run


# ---- end to end --------------------------------------------------------------------------


def test_a_checklist_runs_end_to_end_into_the_ledger(pipeline):
    ws, run = pipeline
    assert run.status == "finished", run.reason
    assert re.fullmatch(r"DR-\d{8}-\d{6}", run.id)
    assert run.parameters == {"rows": 6, "marker": MARKER}
    assert [s.status for s in run.steps] == ["passed"] * 4
    assert all(s.duration_s is not None and s.duration_s > 0 for s in run.steps)
    assert run.duration_s > 0
    load = run.step("load")
    # What the notebook computed from the overridden parameter rows=6.
    assert load.counts == {"loaded": 42, "parked": 5}
    assert load.outputs == {"job_id": "J0042"}
    assert load.artefact == f"reports/{run.id}/02-load.html"
    assert load.operator == "analyst" and load.planned_s == 300.0
    # The notebook's output became the next step's parameter.
    assert run.step("reconcile").outputs == {"seen_reconcile": "J0042"}
    log = (ws.root / run.step("reconcile").artefact).read_text()
    assert f"hook J0042 {run.id} {ws.root}" in log
    assert run.step("preflight").outputs == {"seen_preflight": "sandbox"}
    manual = run.step("client_validation")
    assert manual.operator == "sme" and manual.waiting_s == pytest.approx(0, abs=0.5)
    (ack,) = run.acks
    assert (ack.step, ack.user, ack.verdict, ack.via) == ("client_validation", "sme", "go", "auto")
    folder = ws.reports_dir / run.id
    assert {p.name for p in folder.iterdir()} >= {
        "01-preflight.log",
        "02-load.ipynb",
        "02-load.html",
        "03-reconcile.log",
    }
    actions = [(e["action"], e["outcome"]) for e in AuditLog(ws).entries()]
    assert actions == [
        ("run.start", "ok"),
        ("run.acknowledge_step", "ok"),
        ("run.end", "ok"),
    ]
    assert AuditLog(ws).verify().ok


def test_notebook_html_is_outputs_only_and_offline(pipeline):
    ws, run = pipeline
    html = (ws.root / run.step("load").artefact).read_text()
    executed = (ws.reports_dir / run.id / "02-load.ipynb").read_text()
    assert MARKER in executed  # papermill injected it ...
    assert MARKER not in html  # ... and the report leaves the injected cell out
    assert "loaded 42" in html
    assert 'class="jp-CodeMirrorEditor' not in html  # no code cell shows its source
    assert not re.search(r"""<script[^>]*\bsrc\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"""<link[^>]*\bhref\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "require.min.js" not in html and "cdnjs" not in html and "<script" not in html


def test_runs_show_json_matches_the_ledger(pipeline):
    ws, run = pipeline
    cli = CliRunner()
    shown = cli.invoke(app, ["runs", "show", run.id, "--json", "-w", str(ws.root)])
    assert shown.exit_code == 0, shown.output
    expected = json.loads(json.dumps(ledger.get_run(ws, run.id).to_dict(), default=str))
    assert json.loads(shown.stdout) == expected
    listed = cli.invoke(app, ["runs", "--json", "-w", str(ws.root)])
    assert [r["id"] for r in json.loads(listed.stdout)] == [run.id]
    table = cli.invoke(app, ["runs", "show", run.id, "-w", str(ws.root)], env={"COLUMNS": "160"})
    assert "client_validation" in table.stdout and "loaded=42, parked=5" in table.stdout


# ---- notebooks that fail -----------------------------------------------------------------


def test_a_cell_that_calls_sys_exit_fails_the_step_and_stops_the_run(tmp_path, monkeypatch):
    ws = make_ws(tmp_path / "ws")
    write_notebooks(ws)
    checklist = write_checklist(ws, FAILING)
    raised: dict[str, BaseException | None] = {}
    execute = notebook_step_mod.papermill.execute_notebook

    def spy(source, *args, **kwargs):
        try:
            result = execute(source, *args, **kwargs)
        except BaseException as e:
            raised[Path(source).name] = e
            raise
        raised[Path(source).name] = None
        return result

    monkeypatch.setattr(notebook_step_mod.papermill, "execute_notebook", spy)
    run = run_checklist(ws, checklist, "sandbox", {}, OPERATOR, "rehearsal")

    assert raised["exits.ipynb"] is None  # papermill returned normally ...
    assert raised["raises.ipynb"] is not None
    assert [s.status for s in run.steps] == ["failed", "failed", "skipped"]
    # ... yet the step failed, named by its cell. The optional step did not stop the run.
    assert (
        run.step("shaky").error
        == "raises.ipynb cell 3 (raise ValueError('boom')): ValueError: boom"
    )
    assert run.step("exits").error == "exits.ipynb cell 3 (import sys): SystemExit: 0"
    assert run.status == "failed"
    assert run.reason == f"step exits failed: {run.step('exits').error}"
    assert run.step("after").started_at is None
    html = (ws.root / run.step("exits").artefact).read_text()
    assert "The step failed at this cell" in html and "SystemExit" in html
    assert html.count('class="jp-CodeMirrorEditor') == 1  # only the failing cell's source
    failures = [e for e in AuditLog(ws).entries() if e["action"] == "run.step_failed"]
    assert [e["details"]["step"] for e in failures] == ["shaky", "exits"]
    assert list(AuditLog(ws).entries())[-1]["outcome"] == "failed"


def test_a_kernel_that_cannot_start_fails_the_step(tmp_path):
    ws = make_ws(tmp_path / "ws")
    write_notebooks(ws)
    checklist = write_checklist(
        ws, "checklist: nokernel\nsteps:\n  - {id: nb, kind: notebook, notebook: passes.ipynb}\n"
    )
    run = run_checklist(
        ws, checklist, "sandbox", {}, OPERATOR, "rehearsal", kernel_name="no-such-kernel"
    )
    assert run.status == "failed"
    error = run.step("nb").error
    assert "did not start" in error and "no-such-kernel" in error, error


# ---- commands and manual steps ------------------------------------------------------------


def test_command_timeouts_and_missing_parameters_fail_their_steps(tmp_path):
    ws = make_ws(tmp_path / "ws")
    checklist = write_checklist(
        ws,
        "checklist: commands\nsteps:\n"
        "  - id: slow\n    kind: command\n    optional: true\n    timeout_minutes: 0.01\n"
        "    run: python -c 'import time; time.sleep(30)'\n"
        "  - id: typo\n    kind: command\n    run: python hook.py {nope}\n"
        "  - id: never\n    kind: manual\n",
    )
    started = time.monotonic()
    run = run_checklist(ws, checklist, "sandbox", {}, OPERATOR, "rehearsal")
    assert time.monotonic() - started < 10
    assert run.step("slow").status == "failed"
    assert run.step("slow").error.startswith("timed out after 0.6 s")
    assert run.step("typo").error.startswith("step typo: {nope} is not a parameter")
    assert run.step("never").status == "skipped"
    assert run.status == "failed"


def test_a_manual_step_waits_for_an_ack_from_another_process(tmp_path):
    ws = make_ws(tmp_path / "ws")
    checklist = write_checklist(
        ws,
        "checklist: signoff\nsteps:\n"
        "  - {id: client_validation, kind: manual, who: client SME, planned_minutes: 30}\n",
    )
    result: dict[str, ledger.Run] = {}
    thread = threading.Thread(
        target=lambda: result.update(
            run=run_checklist(
                ws, checklist, "sandbox", {}, OPERATOR, "rehearsal", poll_s=0.05, max_wait_s=60
            )
        )
    )
    thread.start()
    try:
        run_id = _wait_until_waiting(ws, "client_validation")
        assert ledger.get_run(ws, run_id).status == "waiting"
        env = {**os.environ, "WORKBENCH_USER": "sme"}
        env.pop("WORKBENCH_WORKSPACE", None)
        acked = subprocess.run(
            [str(WORKBENCH), "checklist", "ack", run_id, "client_validation", "--note", "ok",
             "-w", str(ws.root)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert acked.returncode == 0, acked.stderr
    finally:
        thread.join(timeout=60)
    run = result["run"]
    assert run.status == "finished"
    step = run.step("client_validation")
    assert step.status == "passed" and step.operator == "sme"
    assert step.waiting_s > 0
    (ack,) = run.acks
    assert (ack.user, ack.verdict, ack.note, ack.via) == ("sme", "go", "ok", "command")
    audited = [e for e in AuditLog(ws).entries() if e["action"] == "run.acknowledge_step"]
    assert audited[0]["user"] == "sme" and audited[0]["details"]["step"] == "client_validation"


def _wait_until_waiting(ws: workspace.Workspace, step: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = ledger.list_runs(ws)
        if runs and runs[0].step(step).status == "waiting":
            return runs[0].id
        time.sleep(0.05)
    raise AssertionError("the run never waited")


def test_a_manual_step_fails_on_no_go_and_when_nobody_acknowledges(tmp_path):
    ws = make_ws(tmp_path / "ws")
    checklist = write_checklist(
        ws,
        "checklist: signoffs\nsteps:\n"
        "  - {id: quiet, kind: manual, optional: true}\n"
        "  - {id: client, kind: manual}\n",
    )
    seen: list[ledger.Run] = []

    def decide(run: ledger.Run) -> dict:
        seen.append(run)
        return {"decision": "no-go", "failed": [s.step for s in run.steps if s.status == "failed"]}

    run = run_checklist(
        ws, checklist, "sandbox", {}, OPERATOR, "rehearsal",
        auto_ack={"client": ("sme", "no-go")}, poll_s=0.05, max_wait_s=0.3,
        before_finish=decide,
    )  # fmt: skip
    assert run.step("quiet").error == "not acknowledged within 0.3 s"
    assert run.step("quiet").waiting_s >= 0.3
    assert run.step("client").error == (
        "no-go from sme: acknowledged in advance for an unattended run"
    )
    assert run.status == "failed"
    # The decision saw the run as it was about to be recorded, and is stored on it.
    assert seen[0].status == "failed" and seen[0].ended_at is None
    assert run.decision == {"decision": "no-go", "failed": ["quiet", "client"]}
    assert list(AuditLog(ws).entries())[-1]["details"]["decision"] == "no-go"


def test_an_acknowledgement_typed_at_the_runs_terminal(tmp_path):
    ws = make_ws(tmp_path / "ws")
    checklist = write_checklist(ws, "checklist: typed\nsteps:\n  - {id: client, kind: manual}\n")
    run_id = ledger.new_run(
        ws, checklist, kind="rehearsal", target="t", operator="analyst", parameters={}
    )
    sc = StepContext(ws, run_id, ws.reports_dir, 1, checklist.steps[0], {}, OPERATOR)
    prompts = io.StringIO()
    entry = manual_step._console_ack(sc, io.StringIO("Dr Jones\nno-go\ncounts are off\n"), prompts)
    assert (entry.user, entry.verdict, entry.via) == ("Dr Jones", "no-go", "console")
    assert entry.note == "typed at the run's terminal by analyst: counts are off"
    assert "verdict [go/no-go]" in prompts.getvalue()
    assert ledger.acks_for(ws, run_id) == [entry]


def test_checklist_list_and_show(tmp_path):
    ws = make_ws(tmp_path / "ws")
    write_checklist(ws, PIPELINE)
    cli = CliRunner()
    listed = cli.invoke(app, ["checklist", "list", "--json", "-w", str(ws.root)])
    (entry,) = [c for c in json.loads(listed.stdout) if c["name"] == "pipeline"]
    assert (entry["origin"], entry["steps"], entry["planned_s"]) == ("workspace", 4, 3960.0)
    shown = cli.invoke(app, ["checklist", "show", "pipeline", "-w", str(ws.root)])
    assert shown.exit_code == 0 and "counts.ipynb" in shown.stdout


def test_ack_needs_the_role_and_a_waiting_manual_step(tmp_path, monkeypatch):
    ws = make_ws(tmp_path / "ws")
    cli = CliRunner()
    monkeypatch.setenv("WORKBENCH_USER", "eve")  # no role
    refused = cli.invoke(app, ["checklist", "ack", "DR-1", "x", "-w", str(ws.root)])
    assert isinstance(refused.exception, PermissionDenied)
    monkeypatch.setenv("WORKBENCH_USER", "sme")
    missing = cli.invoke(app, ["checklist", "ack", "DR-1", "x", "-w", str(ws.root)])
    assert "no run 'DR-1'" in str(missing.exception)


# ---- definitions, parameters, ids, record -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("checklist: bad\nsteps:\n  - id: a\n    kind: robot\n", 4, "kind 'robot' is not one of"),
        ("checklist: bad\nsteps:\n  - id: a\n    kind: command\n", 3, "'run' is required"),
        ("checklist: bad\nsteps:\n  - {id: a, kind: manual}\n  - {id: a, kind: manual}\n", 4,
         "step id 'a' is repeated"),
        ("checklist: bad\nsteps:\n  - id: a\n    kind: manual\n    planned_minutes: soon\n", 5,
         "planned_minutes must be a number"),
        ("checklist: bad\nsteps:\n  - id: a\n    kind: manual\n    notebook: x.ipynb\n", 5,
         "'notebook' is not a key of a manual step"),
        ("checklist: other\nsteps: []\n", 1, "names checklist 'other'"),
        ("checklist: bad\nsteps:\n  - id: [\n", 4, "YAML syntax"),
    ],
)  # fmt: skip
def test_definition_errors_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ChecklistError) as e:
        read_checklist(path)
    assert str(e.value).startswith(f"{path}:{line}: "), str(e.value)
    assert message in str(e.value)


def test_workspace_checklists_shadow_builtin_ones(tmp_path, monkeypatch):
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    (builtin / "dress.yaml").write_text(
        "checklist: dress\ntitle: Built in\nsteps:\n  - {id: a, kind: manual}\n"
    )
    (builtin / "only-builtin.yaml").write_text(
        "checklist: only-builtin\nsteps:\n  - {id: a, kind: manual}\n"
    )
    monkeypatch.setattr(definitions, "BUILTIN_DIR", builtin)
    ws = make_ws(tmp_path / "ws")
    assert load_checklist(ws, "dress").title == "Built in"
    write_checklist(ws, "checklist: dress\ntitle: Ours\nsteps:\n  - {id: a, kind: manual}\n")
    assert load_checklist(ws, "dress").title == "Ours"
    listed = {c.name: c.origin for c in definitions.list_checklists(ws)}
    assert listed == {"dress": "workspace", "only-builtin": "builtin"}
    with pytest.raises(ChecklistError, match="no checklist 'nope'"):
        load_checklist(ws, "nope")


def test_substitution_and_parameters():
    context = {"source": "clinic", "rows": 6}
    assert substitute({"a": "{source}", "n": "{rows}", "t": "x-{rows}"}, context, step="s") == {
        "a": "clinic",
        "n": 6,
        "t": "x-6",
    }
    with pytest.raises(ChecklistError, match=r"^step acquire: \{snapshot\} is not a parameter"):
        substitute("{snapshot}", context, step="acquire")
    checklist = definitions.Checklist("c", "c", "rehearsal", {"source": "a"}, [])
    assert run_parameters(checklist, {"source": "b"}) == {"source": "b"}
    with pytest.raises(ChecklistError, match="has no parameter 'sorce'"):
        run_parameters(checklist, {"sorce": "b"})
    with pytest.raises(ChecklistError, match="set by the run itself"):
        run_parameters(checklist, {"target": "prod"})


def test_run_ids_are_unique_within_a_second(tmp_path):
    ws = make_ws(tmp_path / "ws")
    checklist = definitions.Checklist(
        "c", "c", "go-live", {}, [definitions.Step("a", "a", "manual")]
    )
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = [
        ledger.new_run(ws, checklist, kind=k, target="t", operator="o", parameters={}, started=at)
        for k in ("go-live", "go-live", "rehearsal")
    ]
    assert ids == ["GL-20300102-030405", "GL-20300102-030405-2", "DR-20300102-030405"]
    assert ledger.get_run(ws, ids[1]).steps[0].status == "pending"


def test_record_writes_atomically_and_is_a_no_op_outside_a_run(tmp_path):
    assert record(None, "s", counts={"n": 1}) is None
    assert record("", "s", counts={"n": 1}) is None
    path = record(tmp_path, "load", counts={"rows": 5})
    record(tmp_path, "load", outputs={"job_id": "J0001"})
    assert json.loads(path.read_text()) == {"counts": {"rows": 5}, "outputs": {"job_id": "J0001"}}
    assert [p.name for p in tmp_path.iterdir()] == ["load.result.json"]
    with pytest.raises(ChecklistError, match="count 'rows' = 'many' is not a number"):
        record(tmp_path, "load", counts={"rows": "many"})


def test_roles_guard_runs(tmp_path):
    ws = make_ws(tmp_path / "ws")
    checklist = write_checklist(ws, "checklist: go-live\nsteps:\n  - {id: a, kind: manual}\n")
    with pytest.raises(PermissionDenied, match="may not go_live"):
        run_checklist(ws, checklist, "production", {}, Actor("sme", "onboarding"), "go-live")
    assert ledger.list_runs(ws) == []
