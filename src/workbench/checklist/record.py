"""What a step reports to its run: ``<run_dir>/<step>.result.json``.

A notebook calls ``record(run_dir, step, counts=..., outputs=...)``; outside a run (exploring
in JupyterLab, ``run_dir`` is None) that is a no-op, so the same notebook serves both modes.
A command step can do the same with ``WORKBENCH_RUN_DIR`` and ``WORKBENCH_STEP``.

``counts`` go into the ledger (rows loaded, parked, ...); ``outputs`` become parameters of
later steps (e.g. ``job_id``). Calling ``record`` again in the same step merges into what it
recorded before. This module imports only the standard library: every notebook loads it.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
from pathlib import Path
from typing import Any

from workbench.checklist.errors import ChecklistError

RESULT_SUFFIX = ".result.json"


def result_path(run_dir: str | os.PathLike[str], step: str) -> Path:
    if not step or "/" in step or "\\" in step or step.startswith("."):
        raise ChecklistError(f"record: {step!r} is not a step id")
    return Path(run_dir) / f"{step}{RESULT_SUFFIX}"


def record(
    run_dir: str | os.PathLike[str] | None,
    step: str,
    counts: dict[str, int | float] | None = None,
    outputs: dict[str, Any] | None = None,
) -> Path | None:
    """Record a step's counts and outputs for its run; returns the file, or None outside a run."""
    if not run_dir:
        return None
    path = result_path(run_dir, step)
    result = read_result(path)
    result["counts"].update(_counts(step, counts or {}))
    result["outputs"].update(_outputs(step, outputs or {}))
    text = json.dumps(result, indent=2, sort_keys=True)
    # Written beside the target and renamed over it: the runner never reads half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_result(path: Path) -> dict[str, dict[str, Any]]:
    """``{"counts": {...}, "outputs": {...}}`` from a result file; empty when there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"counts": {}, "outputs": {}}
    except (OSError, ValueError) as e:
        raise ChecklistError(f"{path}: not a step result ({e})") from None
    if not isinstance(data, dict):
        raise ChecklistError(f"{path}: not a step result")
    counts, outputs = data.get("counts") or {}, data.get("outputs") or {}
    if not isinstance(counts, dict) or not isinstance(outputs, dict):
        raise ChecklistError(f"{path}: counts and outputs must be mappings")
    return {"counts": counts, "outputs": outputs}


def _counts(step: str, counts: dict[str, Any]) -> dict[str, int | float]:
    plain: dict[str, int | float] = {}
    for name, value in counts.items():
        # numbers.Real also admits numpy's scalars, which json cannot write as they are.
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ChecklistError(f"record {step}: count {name!r} = {value!r} is not a number")
        plain[str(name)] = int(value) if isinstance(value, numbers.Integral) else float(value)
    return plain


def _outputs(step: str, outputs: dict[str, Any]) -> dict[str, Any]:
    for name, value in outputs.items():
        if not str(name).isidentifier():
            raise ChecklistError(f"record {step}: output {name!r} is not a parameter name")
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise ChecklistError(
                f"record {step}: output {name!r} is a {type(value).__name__}, not JSON"
            ) from None
    return {str(k): v for k, v in outputs.items()}
