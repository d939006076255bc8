"""Progress reporting that the library emits and the edges (CLI, notebooks) display.

The library never draws bars itself; it calls a ``Progress`` so that the CLI can use rich and
a notebook can stay quiet or use its own widget.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Task(Protocol):
    def advance(self, amount: int = 1) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int | None = None) -> Iterator[Task]: ...


class _SilentTask:
    def advance(self, amount: int = 1) -> None:
        pass


class Silent:
    """The default: report nothing."""

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        yield _SilentTask()


SILENT = Silent()
