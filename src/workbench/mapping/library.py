"""Where mapping artefacts are found: the workspace's ``mappings/`` first, then the library
that ships with the workbench (the repository's own ``mappings/``, packaged as
``workbench/library`` in a wheel)."""

from __future__ import annotations

from pathlib import Path

KINDS = {
    "targets": ".yaml",
    "reference": ".yaml",  # reference rows a clean target is prepared with, per model
    "modules": ".yaml",
    "templates": ".yaml",
    "crosswalks": ".csv",
}


def library_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "library"
    if packaged.is_dir():
        return packaged
    # A source checkout (editable install): src/workbench/mapping -> repository root.
    return Path(__file__).resolve().parents[3] / "mappings"


def search_dirs(mappings_dir: Path | None, kind: str) -> list[Path]:
    dirs = [mappings_dir / kind] if mappings_dir is not None else []
    lib = library_dir() / kind
    if not dirs or lib.resolve() != dirs[0].resolve():
        dirs.append(lib)
    return dirs


def find(mappings_dir: Path | None, kind: str, name: str) -> Path | None:
    """The file of ``name`` of this kind, or None."""
    for d in search_dirs(mappings_dir, kind):
        path = d / f"{name}{KINDS[kind]}"
        if path.is_file():
            return path
    return None


def names(mappings_dir: Path | None, kind: str) -> list[str]:
    found: dict[str, None] = {}
    for d in search_dirs(mappings_dir, kind):
        for path in sorted(d.glob(f"*{KINDS[kind]}")):
            found.setdefault(path.stem)
    return list(found)
