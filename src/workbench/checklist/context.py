"""What every kind of step receives from the runner, and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.checklist.definitions import Step
from workbench.roles import Actor
from workbench.workspace import Workspace

DEFAULT_POLL_S = 1.0


@dataclass(frozen=True)
class StepContext:
    ws: Workspace
    run_id: str
    run_dir: Path
    seq: int
    step: Step
    context: dict[str, Any]  # parameters, target, run ids and earlier steps' outputs
    operator: Actor
    kernel_name: str = "python3"
    notebooks_dir: Path | None = None
    auto_ack: dict[str, Any] = field(default_factory=dict)
    interactive: bool = False
    poll_s: float = DEFAULT_POLL_S
    max_wait_s: float | None = None

    @property
    def stem(self) -> str:
        """The name of this step's artefacts in the run folder: ``NN-step``."""
        return f"{self.seq:02d}-{self.step.id}"

    def relative(self, path: Path) -> str:
        """A path as the ledger keeps it: relative to the workspace when inside it."""
        try:
            return str(path.relative_to(self.ws.root))
        except ValueError:
            return str(path)


@dataclass
class StepOutcome:
    status: str  # passed | failed
    error: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    artefact: str | None = None
    waiting_s: float | None = None
    operator: str | None = None  # who did it, when not the run's operator (a manual step)

    @property
    def passed(self) -> bool:
        return self.status == "passed"
