"""The top-level ``workbench`` application and its error edge."""

from __future__ import annotations

import sys

import typer

from workbench.cli import (
    acquisition,
    audit_cmd,
    checklist_cmd,
    crosswalk_cmd,
    demo_cmd,
    environment_cmd,
    job_cmd,
    map_cmd,
    modules_cmd,
    profile_cmd,
    rehearse_cmd,
    synth_cmd,
    target_cmd,
    workspace_cmd,
)
from workbench.cli.edge import console
from workbench.errors import WorkbenchError

app = typer.Typer(
    name="workbench",
    help="Migration workbench: acquire, profile, map, load and reconcile legacy EHR data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (
    workspace_cmd,
    acquisition,
    profile_cmd,
    synth_cmd,
    demo_cmd,
    map_cmd,
    modules_cmd,
    crosswalk_cmd,
    audit_cmd,
    target_cmd,
    environment_cmd,
    job_cmd,
    checklist_cmd,
    rehearse_cmd,
):
    module.register(app)


def main() -> None:
    """Run the CLI; a WorkbenchError becomes one line on stderr and exit code 1."""
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except WorkbenchError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        console.print("[bold red]aborted[/]")
        sys.exit(130)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]")
        sys.exit(130)
    except Exception as e:  # click usage errors carry their own exit code
        if isinstance(e, _click_exceptions()):
            e.show()
            sys.exit(e.exit_code)
        raise


def _click_exceptions() -> tuple[type[Exception], ...]:
    # Typer >= 0.29 carries its own copy of click; older versions use click itself.
    import click

    kinds: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException
    except ImportError:
        pass
    else:
        kinds.append(ClickException)
    return tuple(kinds)
