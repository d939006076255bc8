"""Who may do what: the current user, their role from ``[users]`` in workbench.toml, and the
check every guarded action makes. A refusal is written to the audit log before it is raised.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from workbench.audit import AuditLog
from workbench.errors import ConfigError, PermissionDenied
from workbench.workspace import CONFIG_NAME, Workspace

USER_ENV = "WORKBENCH_USER"

ACTIONS = (
    "read_template",
    "edit_template",
    "publish_template",
    "manage_crosswalks",
    "manage_secrets",
    "run_job",
    "override_gate",
    "rollback",
    "acknowledge_step",
    "go_live",
)
ROLES: dict[str, frozenset[str]] = {
    "migration_engineer": frozenset(ACTIONS),
    "onboarding": frozenset({"read_template", "run_job", "acknowledge_step"}),
}
# A workspace without [users] belongs to one person, who must be able to do everything.
SOLE_USER_ROLE = "migration_engineer"


@dataclass(frozen=True)
class Actor:
    user: str
    role: str | None

    def may(self, action: str) -> bool:
        return self.role is not None and action in ROLES.get(self.role, frozenset())

    def __str__(self) -> str:
        return f"{self.user} ({self.role})" if self.role else self.user


def current_user(default: str | None = None) -> str:
    """WORKBENCH_USER, else the workspace's ``default_user``, else the login name."""
    if user := os.environ.get(USER_ENV, "").strip():
        return user
    if default:
        return default
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name, e.g. an arbitrary uid in a container
        raise ConfigError(f"cannot tell who you are: set {USER_ENV}") from None


def current_actor(ws: Workspace) -> Actor:
    # An example or single-analyst workspace may name who acts when WORKBENCH_USER is unset.
    user = current_user(ws.config.get("workspace", {}).get("default_user"))
    users = ws.config.get("users")
    if users is None:
        return Actor(user, SOLE_USER_ROLE)
    if not isinstance(users, dict):
        raise ConfigError(f"{ws.root / CONFIG_NAME}: [users] must be a table of user = role")
    role = users.get(user)
    if role is not None and role not in ROLES:
        raise ConfigError(
            f"{ws.root / CONFIG_NAME}: [users] {user} = {role!r} is not a role "
            f"(roles: {', '.join(ROLES)})"
        )
    return Actor(user, role)


def require(ws: Workspace, action: str, *, what: str = "") -> Actor:
    """The current actor if their role allows ``action``; else audit and PermissionDenied."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")  # a programming error, not a user's
    actor = current_actor(ws)
    if actor.may(action):
        return actor
    AuditLog(ws).append(
        action, actor=actor, outcome="refused", details={"action": action, "what": what}
    )
    raise PermissionDenied(_refusal(ws, actor, action, what))


def _refusal(ws: Workspace, actor: Actor, action: str, what: str) -> str:
    if actor.role is None:
        return f"user {actor.user} has no role in {ws.root / CONFIG_NAME} [users]"
    allowed = " or ".join(role for role, actions in ROLES.items() if action in actions)
    target = f" {what}" if what else ""
    return f"user {actor} may not {action}{target}; ask a {allowed}"
