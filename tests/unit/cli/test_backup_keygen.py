"""`gristops backup keygen` prints lines a person can paste into gristops.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from gristops.cli.main import app
from gristops.config import parse_config

CONFIG = """\
data_dir: data
grist: {document_id: Shop}
roles: {admin: {"*": [read]}}
"""


def test_keygen_prints_a_recipient_line_that_pastes_into_the_config(tmp_path: Path) -> None:
    config = tmp_path / "gristops.yaml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["backup", "keygen", "-c", str(config)])
    assert result.exit_code == 0, result.output
    pasted = result.output.split("add to gristops.yaml:\n", 1)[1]
    [recipient] = yaml.safe_load(pasted)["backup"]["encryption"]["recipients"]
    assert recipient.startswith("age1") and len(recipient) == 62
    parse_config(CONFIG + pasted, str(config), tmp_path)  # the pasted config is valid
    assert (tmp_path / "data" / "keys" / "backup.age").stat().st_mode & 0o777 == 0o600
