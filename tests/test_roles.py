"""Roles: who the current user is, what their role allows, and refusals in the audit log."""

from pathlib import Path

import pytest

from workbench import roles, workspace
from workbench.audit import AuditLog
from workbench.errors import ConfigError, PermissionDenied
from workbench.roles import Actor, current_actor, require

USERS = '\n[users]\nanalyst = "migration_engineer"\nonboarder = "onboarding"\n'


def make_workspace(root: Path, users: str = USERS) -> workspace.Workspace:
    workspace.init(root, name="test-clinic")
    with (root / workspace.CONFIG_NAME).open("a") as f:
        f.write(users)
    return workspace.load(root)


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws")


def test_roles_come_from_the_users_table(ws, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "analyst")
    assert current_actor(ws) == Actor("analyst", "migration_engineer")
    monkeypatch.setenv("WORKBENCH_USER", "onboarder")
    assert current_actor(ws) == Actor("onboarder", "onboarding")
    monkeypatch.setenv("WORKBENCH_USER", "eve")
    assert current_actor(ws) == Actor("eve", None)


def test_without_users_table_the_single_user_is_an_engineer(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path / "solo", users="")
    monkeypatch.delenv("WORKBENCH_USER", raising=False)
    monkeypatch.setattr(roles.getpass, "getuser", lambda: "sam")
    assert current_actor(ws) == Actor("sam", "migration_engineer")
    assert require(ws, "go_live").user == "sam"


def test_role_permissions():
    engineer, onboarding = Actor("a", "migration_engineer"), Actor("b", "onboarding")
    assert all(engineer.may(action) for action in roles.ACTIONS)
    allowed = {a for a in roles.ACTIONS if onboarding.may(a)}
    assert allowed == {"read_template", "run_job", "acknowledge_step"}
    assert not Actor("c", None).may("read_template")


def test_unknown_role_is_a_config_error(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path / "ws", users='\n[users]\ncarol = "admin"\n')
    monkeypatch.setenv("WORKBENCH_USER", "carol")
    with pytest.raises(ConfigError, match=r"workbench.toml: \[users\] carol = 'admin'"):
        current_actor(ws)


def test_require_allows_and_writes_nothing(ws, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "onboarder")
    assert require(ws, "run_job", what="job-1") == Actor("onboarder", "onboarding")
    assert list(AuditLog(ws).entries()) == []


def test_refusal_is_one_line_and_audited(ws, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "onboarder")
    with pytest.raises(PermissionDenied) as caught:
        require(ws, "publish_template", what="ohm")
    assert str(caught.value) == (
        "user onboarder (onboarding) may not publish_template ohm; ask a migration_engineer"
    )
    (entry,) = AuditLog(ws).entries()
    assert (entry["user"], entry["role"], entry["outcome"]) == (
        "onboarder",
        "onboarding",
        "refused",
    )
    assert entry["details"] == {"action": "publish_template", "what": "ohm"}


def test_user_without_role_is_refused(ws, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "eve")
    with pytest.raises(
        PermissionDenied, match=r"^user eve has no role in .*workbench.toml \[users\]"
    ):
        require(ws, "read_template")
    (entry,) = AuditLog(ws).entries()
    assert entry["role"] is None and entry["outcome"] == "refused"


def test_unknown_action_is_a_programming_error(ws):
    with pytest.raises(ValueError):
        require(ws, "fly")
