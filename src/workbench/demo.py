"""The main job on embedded defaults, end to end: a synthetic clinic as a mysqldump, the
built-in mapping module published, and a full timed dress rehearsal into the DuckDB sandbox.

The rehearsal's own steps acquire the clinic's snapshot and profile it into the data
migration map, then validate, load and reconcile; the demo does not take the snapshot or
profile it a second time beforehand (that would only repeat the same work). Its manual steps
(internal verification, client validation) are acknowledged in advance by the demo's
operator, acting for the synthetic clinic's staff and client: there is no one else to ask.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workbench import workspace as workspaces
from workbench.checklist import ledger
from workbench.checklist.definitions import load_checklist
from workbench.errors import ConfigError, WorkbenchError
from workbench.mapping import versions
from workbench.progress import SILENT, Progress
from workbench.roles import current_actor
from workbench.snapshot.manifest import Manifest
from workbench.snapshot.store import open_snapshot
from workbench.synth import SynthManifest, generate
from workbench.synth.generate import validate
from workbench.workspace import CONFIG_NAME, Workspace

SOURCE_NAME = "demo_clinic"
CHECKLIST = "dress-rehearsal"
TARGET = "sandbox"  # the embedded DuckDB sandbox EHR
MAP_FILES = ("profile.json", "data-migration-map.xlsx", "data-migration-map.html")


@dataclass(frozen=True)
class DemoResult:
    synth: SynthManifest
    source: str
    source_added: bool  # True when the demo added its source to workbench.toml
    template: versions.Stamp
    template_published: bool  # True when this demo published a new version
    snapshot: str
    snapshot_created: bool  # False when an identical snapshot already existed
    operator: str  # who ran it, and acknowledged the manual steps for the synthetic client
    acknowledged: list[str]  # the manual steps acknowledged in advance
    run: ledger.Run
    reports: dict[str, Path]  # the run's report: html (index.html), pdf, xlsx, json
    manifest: Manifest | None  # the snapshot the rehearsal took; None if it stopped before
    map_files: dict[str, Path]  # the data migration map its profile step wrote

    @property
    def decision(self) -> str:
        return (self.run.decision or {}).get("decision", "no-go")


def snapshot_name(style: str, people: int, seed: int) -> str:
    """``demo-ohm-2000-s42``: the name 03_map.ipynb and the docs expect at the defaults."""
    return f"demo-{style}-{people}-s{seed}"


def run_demo(
    ws: Workspace,
    people: int = 2000,
    seed: int = 42,
    style: str = "ohm",
    progress: Progress = SILENT,
    pdf: bool | None = None,
) -> DemoResult:
    """Generate the clinic, publish the module, run the dress rehearsal; ``pdf`` None: print
    the report to PDF when a Chromium is installed."""
    from workbench.checklist import orchestrate  # the checklist engine loads only here

    validate(style, people, seed, "mysqldump")  # before anything is written
    data_dir = ws.root / "data" / "demo"
    source = SOURCE_NAME if style == "ohm" else f"{SOURCE_NAME}_{style}"
    ws, added = ensure_source(ws, source, data_dir / f"{style}.sql")
    with progress.task(f"synthetic {style} clinic: {people:,} people, seed {seed}"):
        synth = generate(
            style=style, people=people, seed=seed, fmt="mysqldump", out=data_dir, progress=progress
        )
    stamp, published = publish_module(ws, style)
    name = snapshot_name(style, people, seed)
    existed = (ws.snapshots_dir / name).is_dir()
    operator = current_actor(ws).user
    manual = [s.id for s in load_checklist(ws, CHECKLIST).steps if s.kind == "manual"]
    run, reports = orchestrate.rehearse(
        ws,
        TARGET,
        {"source": source, "snapshot": name, "template": stamp.ref},
        auto_ack={step: (operator, "go") for step in manual},
        progress=progress,
        pdf=_chromium_found() if pdf is None else pdf,
    )
    return DemoResult(
        synth,
        source,
        added,
        stamp,
        published,
        name,
        not existed and (ws.snapshots_dir / name).is_dir(),
        operator,
        manual,
        run,
        reports,
        _manifest(ws, name),
        {f: ws.reports_dir / name / f for f in MAP_FILES if (ws.reports_dir / name / f).is_file()},
    )


def ensure_source(ws: Workspace, name: str, dump: Path) -> tuple[Workspace, bool]:
    """The workspace with source ``name`` reading ``dump``: added to workbench.toml when it
    has no such source; a source of that name that reads something else is refused."""
    config = ws.source_configs().get(name)
    if config is not None:
        paths = config.get("path")
        paths = paths if isinstance(paths, list) else [paths]
        if config.get("kind") == "mysqldump" and [_resolve(ws, p) for p in paths] == [
            dump.resolve()
        ]:
            return ws, False
        raise ConfigError(
            f"{ws.root / CONFIG_NAME}: source {name!r} does not read the demo's {_rel(ws, dump)}; "
            f"rename that source or run the demo in another workspace (workbench init DIR)"
        )
    path = ws.root / CONFIG_NAME
    before = path.read_text(encoding="utf-8")
    block = (
        "\n# The synthetic clinic that `workbench demo` generates, as a mysqldump "
        f'(added by the demo).\n[sources.{name}]\nkind = "mysqldump"\npath = "{_rel(ws, dump)}"\n'
    )
    path.write_text(before + ("" if before.endswith("\n") else "\n") + block, encoding="utf-8")
    try:
        reloaded = workspaces.load(ws.root)
        if reloaded.source_configs().get(name, {}).get("kind") != "mysqldump":
            raise ConfigError(f"{path}: could not add [sources.{name}]")
    except (ConfigError, tomllib.TOMLDecodeError):
        path.write_text(before, encoding="utf-8")
        raise
    return reloaded, True


def publish_module(ws: Workspace, name: str) -> tuple[versions.Stamp, bool]:
    """The module's latest published version; the draft is published first when it never was
    or was edited since (an unchanged draft is not published again)."""
    published = versions.versions(ws, "template", name)
    status = versions.draft_status(ws, "template", name)
    if published and status.endswith("draft unchanged"):
        return published[-1], False
    stamp = versions.publish(ws, "template", name)
    return stamp, stamp.new


def steps_summary(run: ledger.Run) -> Iterator[str]:
    """One line per step: what it did, how long it took, what it counted."""
    for s in run.steps:
        took = f"{s.duration_s:5.1f} s" if s.duration_s is not None else "     -"
        counts = ", ".join(f"{k}={v:,}" for k, v in s.counts.items())
        who = f" by {s.operator}" if s.kind == "manual" and s.operator else ""
        yield f"{s.seq:2d}. {s.step:<22} {s.status:<7} {took}{who}  {counts}".rstrip()


def _manifest(ws: Workspace, name: str) -> Manifest | None:
    try:
        return open_snapshot(ws.snapshots_dir, name).manifest
    except WorkbenchError:  # the rehearsal stopped before it took the snapshot
        return None


def _resolve(ws: Workspace, path: object) -> Path:
    p = Path(str(path))
    return (p if p.is_absolute() else ws.root / p).resolve()


def _rel(ws: Workspace, path: Path) -> str:
    try:
        return path.resolve().relative_to(ws.root).as_posix()
    except ValueError:
        return str(path)


def _chromium_found() -> bool:
    from workbench.render.browser import BrowserError, find_chromium

    try:
        find_chromium()
    except BrowserError:
        return False
    return True
