"""Read gristops.yaml: YAML, then `${ENV}` substitution, then the pydantic model.

Every problem is reported at once, each as `file: key.path: what (hint)`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from gristops.config.model import Config
from gristops.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def env_names(text: str) -> list[str]:
    """The environment variables a config's values substitute (`${NAME}`), in order, once each.

    Comments do not count; text that is not YAML has none (parse_config says what is wrong).
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    return list(dict.fromkeys(_names(raw)))


def _names(node: Any) -> Iterator[str]:
    if isinstance(node, dict | list):
        for value in node.values() if isinstance(node, dict) else node:
            yield from _names(value)
    elif isinstance(node, str):
        yield from (m.group(1) for m in _ENV.finditer(node))


def _substitute(node: Any, path: str, missing: list[str], environ: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: _substitute(v, f"{path}.{k}" if path else str(k), missing, environ)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_substitute(v, f"{path}[{i}]", missing, environ) for i, v in enumerate(node)]
    if isinstance(node, str):

        def repl(m: re.Match[str]) -> str:
            value = environ.get(m.group(1), m.group(2))
            if value is None:
                missing.append(f"{path}: environment variable {m.group(1)} is not set")
                return ""
            return value

        return _ENV.sub(repl, node)
    return node


def _secret_paths(model: BaseModel, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Key paths of every secret (SecretStr) that is set in the validated config."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        path = (*prefix, info.alias or name)
        if isinstance(value, SecretStr):
            yield path
        elif isinstance(value, BaseModel):
            yield from _secret_paths(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from _secret_paths(item, (*path, str(key)))


def literal_secrets(raw: Any, config: Config) -> list[str]:
    """Key paths whose secret is written literally in the file instead of ${ENV}."""
    found = []
    for path in _secret_paths(config):
        node = raw
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str) and node and not _ENV.fullmatch(node.strip()):
            found.append(".".join(path))
    return found


def _format(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; `gristops config sample` lists every key)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)


# Path keys, per section, taken relative to the config file's folder.
_RELATIVE_PATHS = {
    "grist": ("api_key_file", "docs_dir"),
    "gitops": ("allowed_signers", "wheelhouse"),
    "deploy": ("loadtest",),
}


def _resolved(section: BaseModel, names: tuple[str, ...], base_dir: Path) -> dict[str, Path]:
    """The relative paths among `names` of `section`, made absolute from `base_dir`."""
    return {
        name: (base_dir / value).resolve()
        for name in names
        if (value := getattr(section, name)) is not None and not value.is_absolute()
    }


def parse_config(
    text: str,
    source: str = "<config>",
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate YAML text into a Config; relative paths are taken from `base_dir`.

    `${NAME}` takes its value from `environ` (default: this process's environment).
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{source}:{where}: not valid YAML: {problem}",
            "fix the indentation or quoting there",
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys", "see `gristops config sample`"
        )
    missing: list[str] = []
    data = _substitute(raw, "", missing, os.environ if environ is None else environ)
    if missing:
        raise ConfigError(
            "\n".join(f"{source}: {m}" for m in missing),
            "export the variable, or use ${NAME:-default}",
        )
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            _format(exc, source), "see `gristops config sample` for every key"
        ) from None
    if base_dir is not None:
        updates: dict[str, Any] = {"source_path": Path(source).resolve()}
        if not config.data_dir.is_absolute():
            updates["data_dir"] = (base_dir / config.data_dir).resolve()
        for section, names in _RELATIVE_PATHS.items():
            paths = _resolved(getattr(config, section), names, base_dir)
            if paths:
                updates[section] = getattr(config, section).model_copy(update=paths)
        config = config.model_copy(update=updates)
    return config


def load_config(path: Path) -> Config:
    """Read and validate a gristops.yaml file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file", "run `gristops init` or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", "check the file's permissions") from None
    return parse_config(text, str(path), path.resolve().parent)
