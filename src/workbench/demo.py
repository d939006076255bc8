"""The main job on embedded defaults: synthetic clinic -> mysqldump -> snapshot.

Until the checklist stage lands this is the whole demo; it grows into the full dress
rehearsal (profile, map, load, reconcile) as those stages arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.progress import SILENT, Progress
from workbench.snapshot.acquire import Acquired, acquire
from workbench.sources import from_config
from workbench.synth import SynthManifest, generate
from workbench.workspace import Workspace

SOURCE_NAME = "demo_clinic"


@dataclass(frozen=True)
class DemoResult:
    synth: SynthManifest
    acquired: Acquired


def run_demo(
    ws: Workspace,
    people: int = 2000,
    seed: int = 42,
    style: str = "ohm",
    progress: Progress = SILENT,
) -> DemoResult:
    data_dir = ws.root / "data" / "demo"
    synth = generate(
        style=style, people=people, seed=seed, fmt="mysqldump", out=data_dir, progress=progress
    )
    dump = data_dir / f"{style}.sql"
    source = from_config(SOURCE_NAME, {"kind": "mysqldump", "path": str(dump)}, ws)
    name = f"demo-{style}-{people}-s{seed}"
    return DemoResult(synth, acquire(source, ws.snapshots_dir, name, progress))
