"""Preflight: "confirm the EHR is up" before a run loads anything into it. The target is
reachable, its schema is the target model's version, and the reference rows the load needs
(facilities, staff) exist."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.errors import WorkbenchError
from workbench.target.database import open_target
from workbench.target.environments import target_env
from workbench.target.model import TargetModel, find_model
from workbench.target.reference import load_reference_rows
from workbench.workspace import Workspace


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Preflight:
    target: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {"target": self.target, "ok": self.ok, "checks": [c.__dict__ for c in self.checks]}


def preflight(ws: Workspace, target: str, model_name: str = "ehr") -> Preflight:
    env = target_env(ws, target)
    model = find_model(ws.mappings_dir, model_name)
    result = Preflight(env.describe())
    if env.kind == "duckdb" and not (env.path and env.path.exists()):
        result.checks.append(Check("reachable", False, f"{env.path} does not exist"))
        return result
    try:
        with open_target(env) as db:
            result.checks.append(Check("reachable", True, env.describe()))
            result.checks.append(_schema(db, model))
            result.checks.extend(_reference(ws, db, model))
    except WorkbenchError as e:
        result.checks.append(Check("reachable", False, str(e)))
    return result


def _schema(db, model: TargetModel) -> Check:
    found = db.schema_version()
    want = (model.name, model.version)
    if found is None:
        return Check(
            "schema version", False, f"no {model.name} schema (run 'workbench target prepare')"
        )
    return Check(
        "schema version",
        tuple(found) == want,
        f"target has {found[0]} {found[1]}, the model is {want[0]} {want[1]}",
    )


def _reference(ws: Workspace, db, model: TargetModel) -> list[Check]:
    reference = load_reference_rows(ws.mappings_dir, model)
    needed = reference.keys(model) if reference else {}
    checks = []
    for table in (t for t in model.tables.values() if t.reference):
        pk = table.primary_key
        have = set(db.fetch(f'SELECT "{pk}" AS k FROM {db.q(table.name)}').column("k").to_pylist())
        missing = sorted(set(needed.get(table.name, [])) - {str(k) for k in have})
        ok = bool(have) and not missing
        detail = f"{len(have)} rows" + (f"; missing {', '.join(missing)}" if missing else "")
        checks.append(Check(f"reference rows: {table.name}", ok, detail))
    return checks
