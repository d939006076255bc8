"""A notebook step: papermill executes it into the run folder, and the output notebook, not
papermill's return, says whether it passed.

Papermill returns normally when a cell calls ``sys.exit(0)`` (the kernel stops, the cell is
marked failed), and a kernel that never started leaves every cell "completed" with no times.
So a step passes only when papermill raised nothing and every code cell completed, ran
(start and end times), raised nothing and shows no error output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill

from workbench.checklist.context import StepContext, StepOutcome
from workbench.checklist.definitions import substitute
from workbench.checklist.errors import ChecklistError
from workbench.checklist.notebook_html import render_html
from workbench.checklist.record import read_result, result_path
from workbench.workspace import Workspace

# The product's notebooks: <repo>/notebooks beside src/workbench/.
PRODUCT_NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"
INJECTED_TAG = "injected-parameters"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"  # the banner cells papermill inserts


@dataclass(frozen=True)
class Judgement:
    error: str | None  # None: every cell ran and completed
    cell: int | None = None  # index in the output notebook of the failing cell


def run(sc: StepContext) -> StepOutcome:
    """Execute the step's notebook with papermill, judge it, render its HTML report."""
    notebook = resolve_notebook(sc.ws, sc.step.notebook or "", sc.notebooks_dir)
    parameters = notebook_parameters(sc)
    out = sc.run_dir / f"{sc.stem}.ipynb"
    raised: Exception | None = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out),
            parameters=parameters,
            kernel_name=sc.kernel_name,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
            execution_timeout=sc.step.timeout_s,  # per cell
            # The kernel's own start-up chatter (e.g. ipykernel's TCP transport warning)
            # would interleave with the CLI's output; its errors still reach the cells.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except Exception as e:  # papermill, nbclient and jupyter_client raise their own types
        raised = e
    if not out.is_file():
        return StepOutcome("failed", error=f"{notebook.name}: {_one_line(raised)}")
    executed = nbformat.read(out, as_version=4)
    verdict = judge(executed, raised, notebook.name, sc.kernel_name)
    html = sc.run_dir / f"{sc.stem}.html"
    render_html(
        executed,
        html,
        title=f"{sc.run_id} · {sc.step.id}: {sc.step.title}",
        failed_cell=verdict.cell,
        failure=verdict.error,
    )
    result = read_result(result_path(sc.run_dir, sc.step.id))
    return StepOutcome(
        "passed" if verdict.error is None else "failed",
        error=verdict.error,
        counts=result["counts"],
        outputs=result["outputs"],
        artefact=sc.relative(html),
    )


def resolve_notebook(ws: Workspace, name: str, notebooks_dir: Path | None = None) -> Path:
    """``name`` in ``notebooks_dir``, else the workspace's ``notebooks/``, else the product's."""
    path = Path(name)
    folders = [d for d in (notebooks_dir, ws.root / "notebooks", PRODUCT_NOTEBOOKS) if d]
    candidates = [path] if path.is_absolute() else [d / path for d in folders]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ChecklistError(
        f"notebook {name}: not found (looked in {', '.join(str(c.parent) for c in candidates)})"
    )


def notebook_parameters(sc: StepContext) -> dict[str, Any]:
    """The step's own parameters, filled from the run's context, and where the run is."""
    return {
        **substitute(sc.step.parameters, sc.context, step=sc.step.id),
        "workspace_dir": str(sc.ws.root),
        "run_id": sc.run_id,
        "run_dir": str(sc.run_dir),
        "step": sc.step.id,
    }


def judge(
    nb: nbformat.NotebookNode, raised: BaseException | None, name: str, kernel_name: str
) -> Judgement:
    """Read the executed notebook's cells: the first one that did not complete fails it."""
    number = 0  # the cell's position in the source notebook, 1-based, as a person counts
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED_TAG not in tags and PAPERMILL_ERROR_TAG not in tags:
            number += 1
        if cell.cell_type != "code":
            continue
        problem = _cell_problem(cell, raised, kernel_name)
        if problem is not None:
            where = f"{name} cell {number}" if INJECTED_TAG not in tags else f"{name} parameters"
            return Judgement(f"{where} ({_first_line(cell.source)}): {problem}", index)
    if raised is not None:
        return Judgement(f"{name}: {_one_line(raised)}")
    return Judgement(None)


def _cell_problem(cell: Any, raised: BaseException | None, kernel_name: str) -> str | None:
    meta = cell.get("metadata", {}).get("papermill", {})
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        return f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
    if meta.get("exception") or meta.get("status") == "failed":
        return f"failed ({_one_line(raised)})" if raised else "failed"
    if meta.get("start_time") is None or meta.get("end_time") is None:
        if meta.get("status") == "completed":  # what papermill leaves when no kernel ran
            because = f": {_one_line(raised)}" if raised else ""
            return f"never ran: kernel {kernel_name!r} did not start{because}"
        because = f" ({_one_line(raised)})" if raised else ""
        return f"never ran (status {meta.get('status', 'unknown')}){because}"
    if meta.get("status") != "completed":
        return f"status {meta.get('status')}"
    return None


def _first_line(source: str) -> str:
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return line if len(line) <= 80 else line[:77] + "..."


def _one_line(e: BaseException | None) -> str:
    if e is None:
        return "no output notebook"
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    if ename:  # papermill's PapermillExecutionError: the cell's exception, not its traceback
        return f"{ename}: {evalue}"
    text = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
