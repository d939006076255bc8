"""What every command shares: one-line errors, JSON output, progress bars, the workspace."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from workbench import workspace as ws

console = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as one line on stderr; the caller raises the returned Exit."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def workspace(path: Path | None) -> ws.Workspace:
    return ws.load(path) if path else ws.find()


class RichProgress:
    """The library's Progress protocol drawn with rich, on stderr so --json stays clean."""

    def __init__(self) -> None:
        self._bars = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Any]:
        task_id = self._bars.add_task(description, total=total)

        class _Task:
            def advance(_, amount: int = 1) -> None:
                self._bars.advance(task_id, amount)

        try:
            yield _Task()
        finally:
            self._bars.remove_task(task_id)

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()


WorkspaceOption = typer.Option(
    None, "--workspace", "-w", help="Workspace directory (default: nearest workbench.toml)."
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
