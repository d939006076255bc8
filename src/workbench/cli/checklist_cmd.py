"""``workbench checklist`` (list, show, ack) and ``workbench runs`` (list, show)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from workbench.checklist import ledger
from workbench.checklist.definitions import list_checklists, load_checklist, read_checklist
from workbench.checklist.manual_step import acknowledge
from workbench.cli.edge import JsonOption, WorkspaceOption, console, emit_json, out, workspace
from workbench.errors import WorkbenchError

checklist_app = typer.Typer(
    help="Checklists: the timed dress rehearsal and the go-live.", no_args_is_help=True
)
WIDE_TABLE = 120  # columns from which a run's step table has room for errors
runs_app = typer.Typer(
    help="Checklist runs (dress rehearsals, go-lives); 'workbench runs' lists them.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(checklist_app, name="checklist")
    app.add_typer(runs_app, name="runs")


@checklist_app.command("list")
def list_command(workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """The checklists this workspace can run (its own shadow the built-in ones)."""
    rows: list[dict[str, Any]] = []
    for found in list_checklists(workspace(workspace_dir)):
        row: dict[str, Any] = {"name": found.name, "origin": found.origin, "path": str(found.path)}
        try:
            c = read_checklist(found.path)
            row.update(title=c.title, kind=c.kind, steps=len(c.steps), planned_s=c.planned_s)
        except WorkbenchError as e:
            row["error"] = str(e)
        rows.append(row)
    if as_json:
        return emit_json(rows)
    table = Table("checklist", "kind", "steps", "planned", "origin", "title")
    for r in rows:
        if "error" in r:
            table.add_row(r["name"], "", "", "", r["origin"], f"[red]{escape(r['error'])}[/]")
        else:
            table.add_row(
                r["name"],
                r["kind"],
                str(r["steps"]),
                duration(r["planned_s"]),
                r["origin"],
                r["title"],
            )
    out.print(table)


@checklist_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Checklist name, e.g. dress-rehearsal."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """A checklist's steps, in order, with their planned durations."""
    c = load_checklist(workspace(workspace_dir), name)
    if as_json:
        return emit_json(c.to_dict())
    table = Table(title=f"{c.name}: {c.title}")
    for name in ("#", "step", "kind", "planned"):
        table.add_column(name, no_wrap=True)
    table.add_column("what", overflow="fold")
    table.add_column("title")
    for seq, s in enumerate(c.steps, start=1):
        what = s.notebook or s.run or (f"by {s.who}" if s.who else "acknowledgement")
        optional = " (optional)" if s.optional else ""
        table.add_row(str(seq), s.id, s.kind, duration(s.planned_s), what, s.title + optional)
    out.print(table)
    params = ", ".join(f"{k}={v}" for k, v in c.parameters.items()) or "none"
    out.print(f"{c.kind}; planned {duration(c.planned_s)}; parameters: {params}; {c.path}")


@checklist_app.command("ack")
def ack_command(
    run_id: str = typer.Argument(..., help="The run, e.g. DR-20250101-120000."),
    step: str = typer.Argument(..., help="The manual step to acknowledge."),
    verdict: str = typer.Option("go", "--verdict", help="go or no-go."),
    note: str | None = typer.Option(None, "--note", help="A note kept with the verdict."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Acknowledge a manual step of a running checklist, as the current user."""
    entry = acknowledge(workspace(workspace_dir), run_id, step, verdict, note)
    if as_json:
        return emit_json(entry.to_dict())
    out.print(f"{run_id} {step}: {entry.verdict} from {entry.user} at {entry.at}")


@runs_app.callback()
def runs_command(
    ctx: typer.Context, workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """List the runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    runs = ledger.list_runs(workspace(workspace_dir))
    if as_json:
        return emit_json([_brief(r) for r in runs])
    if not runs:
        console.print("no runs yet")
        return
    table = Table("run", "checklist", "target", "status", "started", "duration", "decision")
    for r in runs:
        b = _brief(r)
        table.add_row(
            r.id,
            r.checklist,
            r.target,
            _status(r.status),
            r.started_at[:19].replace("T", " "),
            duration(r.duration_s),
            b["decision"] or "—",
        )
    out.print(table)


@runs_app.command("show")
def run_show_command(
    run_id: str = typer.Argument(..., help="The run, e.g. DR-20250101-120000."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """One run: its steps (planned, actual, waiting, status, counts, errors) and sign-offs."""
    run = ledger.get_run(workspace(workspace_dir), run_id)
    if as_json:
        return emit_json(run.to_dict())
    out.print(
        f"{run.id}: {run.checklist} ({run.kind}) on {run.target}, {_status(run.status)}; "
        f"operator {run.operator}; started {run.started_at}; duration {duration(run.duration_s)}"
    )
    if run.reason:
        out.print(f"reason: {escape(run.reason)}", highlight=False)
    # A narrow terminal lists errors under the table: cut to fit, they would be unreadable.
    wide = out.width >= WIDE_TABLE
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("step", "kind", "planned", "actual", "waiting", "status", "operator"):
        table.add_column(name, no_wrap=True)
    table.add_column("counts", overflow="fold")
    if wide:
        table.add_column("error", overflow="fold", ratio=1)
    for s in run.steps:
        row = [
            s.step,
            s.kind,
            duration(s.planned_s),
            duration(s.duration_s),
            duration(s.waiting_s),
            _status(s.status),
            s.operator or "",
            _counts(s.counts),
        ]
        table.add_row(*row, *([escape(s.error or "")] if wide else []))
    out.print(table)
    for s in run.steps if not wide else ():
        if s.error:
            out.print(f"[bold red]{s.step}[/]: {escape(s.error)}", highlight=False)
    for a in run.acks:
        note = f": {a.note}" if a.note else ""
        line = f"ack {a.step}: {a.verdict} from {a.user} at {a.at} (via {a.via}){note}"
        out.print(escape(line), highlight=False)
    if run.decision:
        out.print(f"decision: {run.decision.get('decision', run.decision)}")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


_STATUS_STYLE = {
    "passed": "green",
    "finished": "green",
    "failed": "bold red",
    "waiting": "yellow",
    "running": "cyan",
}


def _status(status: str) -> str:
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in counts.items())


def _brief(r: ledger.Run) -> dict[str, Any]:
    decision = r.decision.get("decision") if isinstance(r.decision, dict) else None
    return {
        "id": r.id,
        "checklist": r.checklist,
        "kind": r.kind,
        "target": r.target,
        "status": r.status,
        "operator": r.operator,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "duration_s": r.duration_s,
        "decision": decision,
        "reason": r.reason,
    }
