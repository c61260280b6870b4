"""Everything `gristops config check` verifies before a config may serve, as one report.

The file's own rules are the model's (checked when it was loaded); this adds
what needs the world around it: the documents folder settings, the secret
files, the document and its users table, and the access rules against the
document's tables and columns. `gristops gitops` runs the same check on a
rendered config before it is written live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio

from gristops.config import Config
from gristops.config.access import rule_problems
from gristops.config.files import unreadable_files
from gristops.config.load import literal_secrets
from gristops.errors import GristopsError
from gristops.store.checks import document_problems
from gristops.store.factory import open_store
from gristops.store.folders import folder_problems
from gristops.store.schema_summary import table_columns

FOLDER_HINT = "fix the documents folder settings under grist: (see docs/gateway.md, Stores)"
PROBLEMS_HINT = "fix these before `gristops serve`; `gristops init` writes a working sample"


@dataclass(frozen=True)
class ConfigCheck:
    """What a config lacks to serve (`problems`) and what it should improve (`warnings`)."""

    problems: list[str]
    warnings: list[str] = field(default_factory=list)
    rules_checked: bool = False
    hint: str = PROBLEMS_HINT


def check_config(cfg: Config, raw: Any, *, with_store: bool = True) -> ConfigCheck:
    """Check `cfg` (validated from the YAML mapping `raw`); all problems at once."""
    folders = folder_problems(cfg)
    if folders:
        return ConfigCheck(folders, hint=FOLDER_HINT)
    warnings = [
        f"{key} is written literally; use ${{ENV}} or {key}_file so it stays out of the file"
        for key in literal_secrets(raw, cfg)
    ]
    if (cfg.state.url is not None or len(cfg.edge.upstreams) > 1) and (
        cfg.auth.refresh_retry_window == 0
    ):
        warnings.append(
            "several gateways (state.url, edge.upstreams) and auth.refresh_retry_window is 0: "
            "a refresh retried after its gateway died mid-answer revokes the login "
            "(set it to a few seconds, e.g. 10; see docs/state.md)"
        )
    problems = unreadable_files(cfg)
    rules_checked = False
    if not with_store:
        warnings.append("access rules not checked against the document (--no-store)")
    elif not any(p.startswith("grist.") for p in problems):
        found, rules_checked = _store_problems(cfg)
        problems += found
    return ConfigCheck(problems, warnings, rules_checked)


def _store_problems(cfg: Config) -> tuple[list[str], bool]:
    """What `serve` would find wrong with the document and the rules; whether rules were checked."""

    async def main() -> tuple[list[str], bool]:
        try:
            store = open_store(cfg)
        except GristopsError as exc:
            return [f"grist: cannot open the store: {exc.message}"], False
        try:
            problems = await document_problems(cfg, store)
            if problems:
                return problems, False
            tables = await table_columns(store, cfg.grist.document_id)
        finally:
            await store.aclose()
        auth = cfg.auth
        schema = auth.users_table_schema
        return rule_problems(cfg.roles, tables, auth.users_table, schema.password_field), True

    return anyio.run(main)
