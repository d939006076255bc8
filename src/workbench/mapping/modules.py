"""The module library: the built-in templates, one per legacy system, and finding the one
that handles a table or a concept ("which module maps immunizations?").

Modules are looked up like every mapping artefact: the workspace's ``mappings/modules``
first, then the library that ships with the workbench.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import MappingError
from workbench.mapping import library
from workbench.mapping.template import Mapping, Template, load_template
from workbench.workspace import Workspace


@dataclass(frozen=True)
class Module:
    """One module file; ``template`` is None when it does not load (``error`` says why)."""

    name: str
    path: Path
    template: Template | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        t = self.template
        return {
            "module": self.name,
            "title": t.title if t else None,
            "source_system": t.source_system if t else None,
            "target": t.target if t else None,
            "mappings": len(t.mappings) if t else None,
            "source_tables": sorted(reads(t)) if t else None,
            "path": str(self.path),
            "error": self.error,
        }


@dataclass(frozen=True)
class ModuleHit:
    module: str
    title: str
    source_system: str
    path: Path
    matches: list[str] = field(default_factory=list)  # "mapping: sources -> target", or why

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def modules(ws: Workspace | None) -> list[Module]:
    """Every module, by name; a module that does not load is listed with its error, so a
    broken file is reported rather than silently missing from a search."""
    mappings_dir = ws.mappings_dir if ws else None
    found = []
    for name in library.names(mappings_dir, "modules"):
        path = library.find(mappings_dir, "modules", name)
        assert path is not None  # names() lists only files that exist
        try:
            found.append(Module(name, path, load_template(path)))
        except MappingError as e:
            found.append(Module(name, path, error=str(e)))
    return found


def search(ws: Workspace | None, term: str, among: list[Module] | None = None) -> list[ModuleHit]:
    """Modules that read a source table, load a target table or mapping, or are for a source
    system or title containing ``term`` (case-insensitive); the matching mappings listed.
    ``among``: modules already read by ``modules(ws)``."""
    needle = term.strip().casefold()
    if not needle:
        raise MappingError("modules search: give a term, e.g. immunization")
    hits = []
    for module in modules(ws) if among is None else among:
        t = module.template
        if t is None:
            continue
        matches = [f"{label} {value}" for label, value in _about(t) if needle in value.casefold()]
        matches += [_describe(m) for m in t.mappings if _matches(m, needle)]
        if matches:
            hits.append(ModuleHit(module.name, t.title, t.source_system, module.path, matches))
    return hits


def reads(t: Template) -> set[str]:
    return {table for m in t.mappings for table in _tables(m)}


def _about(t: Template) -> list[tuple[str, str]]:
    return [("source_system", t.source_system), ("title", t.title)]


def _tables(m: Mapping) -> list[str]:
    """Every snapshot table a mapping reads: its source, its sections', and joined tables."""
    sources = [s.source for s in m.sections] if m.is_summary else [m.source] if m.source else []
    found = [s.table for s in sources]
    found += [j.table for s in sources for j in s.joins if j.table]
    return list(dict.fromkeys(found))


def _matches(m: Mapping, needle: str) -> bool:
    names = [m.name, m.target, *_tables(m)]
    return any(needle in n.casefold() for n in names)


def _describe(m: Mapping) -> str:
    return f"{m.name}: {', '.join(m.source_tables())} -> {m.target}"
