"""Checklist definitions: the YAML files that list a run's timed steps.

A workspace's ``mappings/checklists/NAME.yaml`` overrides the built-in
``src/workbench/checklist/builtin/NAME.yaml``. Every error names the file and line to fix.

``{name}`` in a step's ``run`` or ``parameters`` is replaced, when the step starts, by the
run's context: its parameters, ``target``, ``run_id``, ``run_dir``, ``workspace_dir`` and the
outputs earlier steps recorded.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.checklist.errors import ChecklistError
from workbench.workspace import Workspace
from workbench.yamldoc import YamlDoc, load_yaml

BUILTIN_DIR = Path(__file__).parent / "builtin"
WORKSPACE_SUBDIR = Path("checklists")  # under the workspace's mappings/
CHECKLIST_KINDS = ("rehearsal", "go-live")
STEP_KINDS = ("notebook", "command", "manual")

_TOP_KEYS = {"checklist", "title", "kind", "description", "parameters", "steps"}
_COMMON_STEP_KEYS = {
    "id",
    "title",
    "kind",
    "planned_minutes",
    "timeout_minutes",
    "who",
    "description",
    "optional",
}
_STEP_KEYS = {
    "notebook": _COMMON_STEP_KEYS | {"notebook", "parameters"},
    "command": _COMMON_STEP_KEYS | {"run"},
    "manual": _COMMON_STEP_KEYS,
}
_STEP_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # it names files in reports/<run>/
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # it becomes a notebook variable
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    kind: str  # notebook | command | manual
    planned_s: float | None = None
    notebook: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    run: str | None = None
    who: str | None = None
    description: str | None = None
    optional: bool = False  # a failed optional step is recorded but does not stop the run
    timeout_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Checklist:
    name: str
    title: str
    kind: str  # rehearsal | go-live
    parameters: dict[str, Any]
    steps: list[Step]
    description: str | None = None
    path: Path | None = None
    sha256: str | None = None  # of the YAML text, so a run records exactly what it followed

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise ChecklistError(f"checklist {self.name}: no step {step_id!r}")

    @property
    def planned_s(self) -> float:
        return sum(s.planned_s or 0.0 for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "description": self.description,
            "parameters": self.parameters,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
            "planned_s": self.planned_s,
            "steps": [s.to_dict() for s in self.steps],
        }


@dataclass(frozen=True)
class ChecklistFile:
    name: str
    path: Path
    origin: str  # workspace | builtin


def list_checklists(ws: Workspace) -> list[ChecklistFile]:
    """Every checklist the workspace can run; its own files shadow the built-in ones."""
    found: dict[str, ChecklistFile] = {}
    for origin, folder in (("builtin", BUILTIN_DIR), ("workspace", _workspace_dir(ws))):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
            found[path.stem] = ChecklistFile(path.stem, path, origin)
    return [found[name] for name in sorted(found)]


def find_checklist(ws: Workspace, name: str) -> Path:
    candidates = [_workspace_dir(ws) / f"{name}.yaml", BUILTIN_DIR / f"{name}.yaml"]
    for path in candidates:
        if path.is_file():
            return path
    known = ", ".join(c.name for c in list_checklists(ws)) or "none"
    raise ChecklistError(
        f"no checklist {name!r}: looked for {candidates[0]} and {candidates[1]} (known: {known})"
    )


def load_checklist(ws: Workspace, name: str) -> Checklist:
    """The checklist NAME: the workspace's own file first, then the built-in one."""
    return read_checklist(find_checklist(ws, name))


def read_checklist(path: Path) -> Checklist:
    return parse_checklist(load_yaml(path, ChecklistError))


def parse_checklist(doc: YamlDoc) -> Checklist:
    data = doc.data()
    if not isinstance(data, dict):
        raise ChecklistError(f"{doc.at([])}: a checklist must be a mapping")
    _no_unknown_keys(doc, [], data, _TOP_KEYS)
    name = _text(doc, data, [], "checklist", required=True)
    if name != doc.path.stem:
        raise ChecklistError(
            f"{doc.at(['checklist'])}: names checklist {name!r} but the file is "
            f"{doc.path.name}; they must agree"
        )
    kind = data.get("kind", "go-live" if name.startswith("go-live") else "rehearsal")
    if kind not in CHECKLIST_KINDS:
        raise ChecklistError(f"{doc.at(['kind'])}: kind must be one of {CHECKLIST_KINDS}")
    parameters = _parameters(doc, data.get("parameters"), ["parameters"])
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ChecklistError(f"{doc.at(['steps'])}: steps must be a non-empty list")
    steps = [_step(doc, i, raw) for i, raw in enumerate(raw_steps)]
    seen: set[str] = set()
    for i, s in enumerate(steps):
        if s.id in seen:
            raise ChecklistError(f"{doc.at(['steps', i, 'id'])}: step id {s.id!r} is repeated")
        seen.add(s.id)
    return Checklist(
        name=name,
        title=_text(doc, data, [], "title") or name,
        kind=kind,
        parameters=parameters,
        steps=steps,
        description=_text(doc, data, [], "description"),
        path=doc.path,
        sha256=hashlib.sha256(doc.text.encode("utf-8")).hexdigest(),
    )


def _step(doc: YamlDoc, i: int, raw: Any) -> Step:
    where: list[str | int] = ["steps", i]
    if not isinstance(raw, dict):
        raise ChecklistError(f"{doc.at(where)}: a step must be a mapping")
    step_id = _text(doc, raw, where, "id", required=True)
    if not _STEP_ID.match(step_id):
        raise ChecklistError(
            f"{doc.at([*where, 'id'])}: step id {step_id!r}: use letters, digits, _ . -"
        )
    kind = _text(doc, raw, where, "kind", required=True)
    if kind not in STEP_KINDS:
        raise ChecklistError(
            f"{doc.at([*where, 'kind'])}: step {step_id}: kind {kind!r} is not one of "
            f"{', '.join(STEP_KINDS)}"
        )
    _no_unknown_keys(doc, where, raw, _STEP_KEYS[kind], f"a {kind} step")
    run = _text(doc, raw, where, "run", required=kind == "command")
    if run is not None:
        try:
            shlex.split(run)
        except ValueError as e:
            raise ChecklistError(f"{doc.at([*where, 'run'])}: step {step_id}: {e}") from None
    notebook = _text(doc, raw, where, "notebook", required=kind == "notebook")
    if notebook is not None and not notebook.endswith(".ipynb"):
        raise ChecklistError(f"{doc.at([*where, 'notebook'])}: {notebook!r} is not a .ipynb")
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise ChecklistError(f"{doc.at([*where, 'optional'])}: optional must be true or false")
    return Step(
        id=step_id,
        title=_text(doc, raw, where, "title") or step_id,
        kind=kind,
        planned_s=_minutes(doc, raw, where, "planned_minutes"),
        notebook=notebook,
        parameters=_parameters(doc, raw.get("parameters"), [*where, "parameters"]),
        run=run,
        who=_text(doc, raw, where, "who"),
        description=_text(doc, raw, where, "description"),
        optional=optional,
        timeout_s=_minutes(doc, raw, where, "timeout_minutes", positive=True),
    )


def _workspace_dir(ws: Workspace) -> Path:
    return ws.mappings_dir / WORKSPACE_SUBDIR


def _no_unknown_keys(
    doc: YamlDoc, where: list[str | int], data: dict, allowed: set[str], what: str = "a checklist"
) -> None:
    for key in data:
        if key not in allowed:
            raise ChecklistError(
                f"{doc.at([*where, key])}: {key!r} is not a key of {what} "
                f"(keys: {', '.join(sorted(allowed))})"
            )


def _text(
    doc: YamlDoc, data: dict, where: list[str | int], key: str, *, required: bool = False
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ChecklistError(f"{doc.at(where)}: {key!r} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ChecklistError(f"{doc.at([*where, key])}: {key} must be non-empty text")
    return value.strip()


def _minutes(
    doc: YamlDoc, data: dict, where: list[str | int], key: str, *, positive: bool = False
) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ChecklistError(f"{doc.at([*where, key])}: {key} must be a number of minutes")
    if positive and value == 0:
        raise ChecklistError(f"{doc.at([*where, key])}: {key} must be more than 0")
    return float(value) * 60.0


def _parameters(doc: YamlDoc, value: Any, where: list[str | int]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ChecklistError(f"{doc.at(where)}: parameters must be a mapping of name: value")
    for name, v in value.items():
        if not _PARAMETER_NAME.match(name):
            raise ChecklistError(
                f"{doc.at([*where, name])}: parameter {name!r} is not a Python identifier"
            )
        if not isinstance(v, str | int | float | bool) and v is not None:
            raise ChecklistError(
                f"{doc.at([*where, name])}: parameter {name!r} must be text, a number, "
                "true/false or null"
            )
    return dict(value)


def placeholders(value: Any) -> set[str]:
    """The ``{name}`` placeholders in ``value`` (text, or lists and mappings of text)."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value))
    return set()


def substitute(value: Any, context: dict[str, Any], *, step: str) -> Any:
    """``value`` with every ``{name}`` replaced from ``context``.

    A text that is exactly one placeholder takes the context value as is (a number stays a
    number); otherwise the value is formatted into the text. A name the context lacks is a
    ChecklistError naming the step.
    """
    if isinstance(value, dict):
        return {k: substitute(v, context, step=step) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context, step=step) for v in value]
    if not isinstance(value, str):
        return value
    missing = sorted(n for n in _PLACEHOLDER.findall(value) if n not in context)
    if missing:
        known = ", ".join(sorted(context))
        raise ChecklistError(
            f"step {step}: {', '.join('{' + n + '}' for n in missing)} is not a parameter of "
            f"this run or an output of an earlier step (known: {known})"
        )
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        return context[whole.group(1)]
    return _PLACEHOLDER.sub(lambda m: str(context[m.group(1)]), value)
