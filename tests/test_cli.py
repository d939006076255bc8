"""The CLI as a user meets it: through a subprocess, with real exit codes and output."""

import json
import subprocess
import sys
from pathlib import Path

import typer.main

from workbench.cli import app

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def run(*args, cwd=None, env=None):
    return subprocess.run(
        [WORKBENCH, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def command_names():
    return sorted(typer.main.get_command(app).commands)


def command_paths():
    """Every command and sub-command, e.g. ('job', 'commit')."""
    paths = []
    for name, cmd in typer.main.get_command(app).commands.items():
        paths.append((name,))
        paths += [(name, sub) for sub in sorted(getattr(cmd, "commands", {}))]
    return sorted(paths)


def test_every_command_has_help():
    from typer.testing import CliRunner

    names = command_names()
    assert {"init", "sources", "probe", "acquire", "snapshots", "job", "rehearse"} <= set(names)
    assert run("--help").returncode == 0  # the installed script itself starts
    runner = CliRunner()
    for path in command_paths():  # in-process: ~40 commands, one interpreter
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output, path


def test_init_then_sources_json(tmp_path):
    result = run("init", str(tmp_path / "cust"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cust" / "workbench.toml").is_file()
    listed = run("sources", "--json", "-w", str(tmp_path / "cust"))
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_user_errors_are_one_line_and_nonzero(tmp_path):
    run("init", str(tmp_path / "ws"))
    cases = [
        ("probe", "nope", "-w", str(tmp_path / "ws")),
        ("acquire", "nope", "--snapshot", "s", "-w", str(tmp_path / "ws")),
        ("snapshot", "missing", "-w", str(tmp_path / "ws")),
        ("sources", "-w", str(tmp_path / "nowhere")),
    ]
    for args in cases:
        result = run(*args)
        assert result.returncode != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, result.stderr)
        assert "Traceback" not in result.stderr
