"""Prepare a target environment: optionally wipe it, create the model's schema, seed the
reference rows. The dress rehearsal's first step: "a clean environment is made"."""

from __future__ import annotations

import contextlib

from workbench.errors import TargetError
from workbench.roles import require
from workbench.target.database import open_target
from workbench.target.environments import TargetEnv, target_env
from workbench.target.model import find_model
from workbench.target.reference import load_reference_rows, seed
from workbench.workspace import Workspace


def prepare(
    ws: Workspace,
    target: str,
    model_name: str = "ehr",
    *,
    reset: bool = False,
    confirm: bool = False,
) -> str:
    env = target_env(ws, target)
    model = find_model(ws.mappings_dir, model_name)
    if reset:
        require(ws, "rollback", what=f"reset {target}")
        if not confirm:
            raise TargetError(f"{env.describe()}: --reset deletes everything in it; add --yes")
        _wipe(env)
    if env.kind == "duckdb" and env.path:
        env.path.parent.mkdir(parents=True, exist_ok=True)
    with open_target(env) as db:
        created = db.ensure_schema(model)
        reference = load_reference_rows(ws.mappings_dir, model)
        added = seed(db, model, reference) if reference else {}
    rows = ", ".join(f"{n} {t}" for t, n in added.items()) or "none"
    what = "created" if created else "already there"
    schema = f"schema {model.name} {model.version} {what}"
    return f"{env.describe()}: {schema}; reference rows added: {rows}"


def _wipe(env: TargetEnv) -> None:
    if env.kind == "duckdb":
        for path in (env.path, env.path.with_suffix(env.path.suffix + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return
    with open_target(env) as db, db.transaction():
        db.execute(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE')
