"""A command step: a hook such as ``workbench preflight {target}``, run without a shell.

The command line is split with shlex *before* ``{name}`` placeholders are filled, so a value
is always one argument and never shell syntax. A hook that needs pipes or redirection says
so explicitly: ``sh -c '...'``. ``PATH`` starts with the folder of the running Python, so
``workbench`` and ``python`` are this installation's.

The command runs in the workspace with the run's context in the environment
(``WORKBENCH_RUN_ID``, ``WORKBENCH_RUN_DIR``, ``WORKBENCH_WORKSPACE``, ``WORKBENCH_STEP``):
names and paths, never secret values. Its output (stdout and stderr together) goes to
``NN-step.log``; its exit code decides the step. It may report counts and outputs like a
notebook, with ``workbench.checklist.record``.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from workbench.checklist.context import StepContext, StepOutcome
from workbench.checklist.definitions import substitute
from workbench.checklist.record import read_result, result_path
from workbench.workspace import WORKSPACE_ENV

DEFAULT_TIMEOUT_S = 3600.0
_KILL_GRACE_S = 5.0


def run(sc: StepContext) -> StepOutcome:
    argv = command_argv(sc)
    log = sc.run_dir / f"{sc.stem}.log"
    timeout = sc.step.timeout_s or DEFAULT_TIMEOUT_S
    with log.open("wb") as f:
        f.write(f"$ {shlex.join(argv)}\n".encode())
        f.flush()
        try:
            code = _execute(argv, f, cwd=sc.ws.root, env=command_env(sc), timeout=timeout)
        except OSError as e:  # not found, not executable
            f.write(f"cannot start {argv[0]}: {e.strerror or e}\n".encode())
            return StepOutcome(
                "failed",
                error=f"cannot start {argv[0]}: {e.strerror or e}",
                artefact=sc.relative(log),
            )
    result = read_result(result_path(sc.run_dir, sc.step.id))
    error = None
    if code is None:
        error = f"timed out after {timeout:g} s: {shlex.join(argv)}"
    elif code != 0:
        last = _last_line(log)
        error = f"exit code {code}" + (f": {last}" if last else "")
    return StepOutcome(
        "passed" if error is None else "failed",
        error=error,
        counts=result["counts"],
        outputs=result["outputs"],
        artefact=sc.relative(log),
    )


def command_argv(sc: StepContext) -> list[str]:
    return [
        str(substitute(token, sc.context, step=sc.step.id))
        for token in shlex.split(sc.step.run or "")
    ]


def command_env(sc: StepContext) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "WORKBENCH_RUN_ID": sc.run_id,
            "WORKBENCH_RUN_DIR": str(sc.run_dir),
            WORKSPACE_ENV: str(sc.ws.root),
            "WORKBENCH_STEP": sc.step.id,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        }
    )
    return env


def _execute(argv: list[str], log, *, cwd: Path, env: dict[str, str], timeout: float) -> int | None:
    """The exit code, or None when the command ran out of time (it is then killed)."""
    # A session of its own, so a timeout kills what the command started as well.
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return None
    except BaseException:  # interrupted: leave nothing running behind the run
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=_KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _last_line(log: Path) -> str:
    with log.open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
        tail = f.read().decode("utf-8", errors="replace")
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    last = lines[-1] if len(lines) > 1 else ""  # the first line is the command itself
    return last if len(last) <= 200 else last[:197] + "..."
