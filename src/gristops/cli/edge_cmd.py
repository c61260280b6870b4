"""`gristops edge render|check|start|reload|stop`: the nginx in front of the gateway."""

from __future__ import annotations

from typing import Annotated

import typer

from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, load, out
from gristops.config import Config
from gristops.deploy.switch import current_target
from gristops.edge.nginx import Nginx, render
from gristops.state.db import StateDB

app = typer.Typer(
    help="The nginx edge: TLS, rate limits, static app, blue|green upstream.", no_args_is_help=True
)


def _render(cfg: Config) -> str:
    # No state DB yet: nothing deployed, and rendering (or checking) must not create one.
    state = StateDB(cfg.state_location) if cfg.has_state else None
    port, web_root = current_target(cfg, state)
    return render(cfg, upstream_port=port, web_root=web_root)


@app.command("render")
def render_cmd(
    config: ConfigOption = DEFAULT_CONFIG,
    apply: Annotated[
        bool, typer.Option("--apply", help="Check it, make it live and reload nginx.")
    ] = False,
) -> None:
    """Print the nginx config for the active slot (or make it live with --apply)."""
    cfg = load(config)
    text = _render(cfg)
    if not apply:
        typer.echo(text, nl=False)
        return
    changed = Nginx(cfg).apply(text)
    out.print("edge config applied" if changed else "edge config unchanged")


@app.command("check")
def check(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Render and check with `nginx -t`, changing nothing."""
    cfg = load(config)
    Nginx(cfg).check(_render(cfg))
    out.print("edge config ok")


@app.command("start")
def start(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Render, check and start nginx (it runs in the background)."""
    cfg = load(config)
    nginx = Nginx(cfg)
    nginx.apply(_render(cfg))
    nginx.start()
    out.print(f"nginx running (pid {nginx.pid()})")


@app.command("reload")
def reload(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Render, check and reload; in-flight requests finish on the old workers."""
    cfg = load(config)
    nginx = Nginx(cfg)
    if not nginx.apply(_render(cfg)):
        nginx.reload()
    out.print("nginx reloaded")


@app.command("stop")
def stop(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Stop nginx gracefully (in-flight requests finish first)."""
    cfg = load(config)
    Nginx(cfg).stop()
    out.print("nginx stopped")
