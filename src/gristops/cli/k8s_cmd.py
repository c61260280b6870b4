"""`gristops k8s render`: the kustomize base of a gateway fleet, from gristops.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gristops import __version__
from gristops.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, emit_json, out
from gristops.config import env_names, parse_config
from gristops.errors import ConfigError
from gristops.files import write_atomic
from gristops.k8s.manifests import render_base

app = typer.Typer(help="Kubernetes manifests of a gateway fleet.", no_args_is_help=True)

# ${ENV} values come from the Secret in the pods; rendering never reads this shell's and
# stands this in for each: a value the secret fields accept (a state URL's scheme included).
IN_THE_POD = "postgresql://set-in-the-pod"


@app.command("render")
def render(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Directory of the base (written, files replaced).")
    ],
    config: ConfigOption = DEFAULT_CONFIG,
    image: Annotated[
        str, typer.Option("--image", help="Container image with gristops installed.")
    ] = f"gristops:{__version__}",
    json_out: JsonOption = False,
) -> None:
    """Write the kustomize base (Deployment, Service, ConfigMap, Secret, PDB, HPA, CronJobs)."""
    try:
        text = config.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read {config}: {exc.strerror}", "pass the gristops.yaml to ship with -c"
        ) from None
    env = env_names(text)
    cfg = parse_config(text, str(config), environ=dict.fromkeys(env, IN_THE_POD))
    files = render_base(cfg, text, env, image)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        write_atomic(out_dir / name, body, 0o644)
    if json_out:
        emit_json({"directory": str(out_dir), "files": sorted(files)})
        return
    out.print(f"kustomize base written to {out_dir}: {', '.join(sorted(files))}")
