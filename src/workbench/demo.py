"""The main job on embedded defaults: synthetic clinic -> mysqldump -> snapshot -> map.

Until the checklist stage lands this is the whole demo; it grows into the full dress
rehearsal (profile, map, load, reconcile) as those stages arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.profile.engine import profile_snapshot
from workbench.profile.model import PrivacyPolicy
from workbench.profile.outputs import write_map
from workbench.progress import SILENT, Progress
from workbench.snapshot.acquire import Acquired, acquire
from workbench.snapshot.store import open_snapshot
from workbench.sources import from_config
from workbench.synth import SynthManifest, generate
from workbench.workspace import Workspace

SOURCE_NAME = "demo_clinic"


@dataclass(frozen=True)
class DemoResult:
    synth: SynthManifest
    acquired: Acquired
    map_files: dict[str, Path]


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
    acquired = acquire(source, ws.snapshots_dir, name, progress)
    snapshot = open_snapshot(ws.snapshots_dir, name)
    profile = profile_snapshot(snapshot, PrivacyPolicy(ws.min_cell_count), progress)
    return DemoResult(synth, acquired, write_map(profile, ws.reports_dir / name))
