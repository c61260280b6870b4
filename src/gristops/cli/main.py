"""The `gristops` command: one typer app, one sub-app per verb group.

Expected failures (GristopsError) print one line with a hint and exit with
their code; anything else is a bug and prints a one-line notice, the
traceback only with GRISTOPS_DEBUG=1.
"""

from __future__ import annotations

import sys

import typer

# typer ships its own copy of click: usage errors derive from that copy's ClickException.
from typer._click.exceptions import ClickException

from gristops import __version__
from gristops.cli import (
    agent_cmd,
    backup_cmd,
    chaos_cmd,
    config_cmd,
    deploy_cmd,
    dora_cmd,
    edge_cmd,
    gitops_cmd,
    init_cmd,
    install_cmd,
    k8s_cmd,
    loadtest_cmd,
    logs_cmd,
    observe_cmd,
    replicate_cmd,
    scan_cmd,
    serve_cmd,
    tls_cmd,
    users_cmd,
)
from gristops.cli.common import err, report
from gristops.errors import INTERRUPTED

app = typer.Typer(
    name="gristops",
    help="A secure gateway and operations system for apps built on Grist.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(users_cmd.app, name="users")
app.add_typer(backup_cmd.app, name="backup")
app.add_typer(edge_cmd.app, name="edge")
app.add_typer(deploy_cmd.app, name="deploy")
app.command("dora")(dora_cmd.dora)
app.add_typer(gitops_cmd.app, name="gitops")
app.add_typer(observe_cmd.app, name="observe")
app.command("init")(init_cmd.init)
app.command("replicate")(replicate_cmd.replicate)
app.command("serve")(serve_cmd.serve)
app.add_typer(tls_cmd.app, name="tls")
app.command("logs")(logs_cmd.logs)
app.command("agent")(agent_cmd.agent)
app.command("scan")(scan_cmd.scan)
app.command("loadtest")(loadtest_cmd.loadtest)
app.add_typer(install_cmd.app, name="install")
app.add_typer(k8s_cmd.app, name="k8s")
app.add_typer(chaos_cmd.app, name="chaos")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gristops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A secure gateway and operations system for apps built on Grist."""


def main() -> None:
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of raising it.
        result = app(standalone_mode=False)
        if isinstance(result, int) and not isinstance(result, bool):
            sys.exit(result)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(INTERRUPTED)
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
    except ClickException as exc:  # a usage mistake: click's own message, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # expected or a bug: one line and a hint, not a traceback
        sys.exit(report(exc))
