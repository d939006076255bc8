import tomllib

import pytest

from workbench import workspace
from workbench.errors import ConfigError, SecretError
from workbench.secrets import SealedSecret


def test_init_creates_a_commented_workspace(tmp_path):
    ws = workspace.init(tmp_path / "acme", name="acme-clinic")
    assert (tmp_path / "acme" / "mappings").is_dir()
    assert (tmp_path / "acme" / "reports").is_dir()
    text = (tmp_path / "acme" / "workbench.toml").read_text()
    # every source kind has a commented example, and the file parses as TOML
    for kind in ("mysqldump", "csv", "access", "database"):
        assert f'# kind = "{kind}"' in text
    assert tomllib.loads(text)["workspace"]["name"] == "acme-clinic"
    assert ws.name == "acme-clinic"
    assert ws.min_cell_count == 5


def test_init_refuses_to_overwrite(tmp_path):
    workspace.init(tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        workspace.init(tmp_path)


def test_find_walks_up_and_honours_env(tmp_path, monkeypatch):
    workspace.init(tmp_path / "a", name="a")
    deep = tmp_path / "a" / "mappings" / "x"
    deep.mkdir(parents=True)
    monkeypatch.delenv(workspace.WORKSPACE_ENV, raising=False)
    assert workspace.find(deep).name == "a"
    workspace.init(tmp_path / "b", name="b")
    monkeypatch.setenv(workspace.WORKSPACE_ENV, str(tmp_path / "b"))
    assert workspace.find(deep).name == "b"


def test_missing_and_broken_config_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="no workspace here"):
        workspace.load(tmp_path)
    (tmp_path / "workbench.toml").write_text("[workspace\nname=")
    with pytest.raises(ConfigError) as e:
        workspace.load(tmp_path)
    assert "workbench.toml" in str(e.value) and "\n" not in str(e.value)


def test_sealed_secret_never_shows_its_value(monkeypatch):
    monkeypatch.setenv("WB_UNIT_SECRET", "hunter2-very-secret")
    s = SealedSecret.parse("env:WB_UNIT_SECRET", "sources.x.password")
    assert s.is_set and s.reveal() == "hunter2-very-secret"
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert "hunter2" not in text
    with pytest.raises(SecretError, match="reference like"):
        SealedSecret.parse("hunter2-very-secret", "sources.x.password")
    monkeypatch.delenv("WB_UNIT_SECRET")
    with pytest.raises(SecretError, match="not set"):
        s.reveal()
