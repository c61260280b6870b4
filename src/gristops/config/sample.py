"""The sample gristops.yaml, generated from the model so it never drifts from it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from gristops.config.model import Config

# Values shown where a field has no default or where the default hides intent.
_EXAMPLES: dict[str, Any] = {
    "grist.document_id": "Shop",
    "grist.base_url": None,
    "grist.api_key": "${GRIST_API_KEY:-}",
    "roles": {
        "admin": {"*": ["read", "create", "update", "delete"]},
        "manager": {"*": ["read"], "Products": ["read", "create", "update"]},
        "user": {"Products": ["read"], "Orders": ["read", "create"]},
    },
}


def _scalar(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = "${GRIST_API_KEY:-}"
    # Models, paths and tuples inside defaults become plain JSON (valid YAML flow style).
    return json.dumps(to_jsonable_python(value, by_alias=True), ensure_ascii=False)


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def _emit(model: type[BaseModel], prefix: str, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        key = info.alias or name
        path = f"{prefix}{key}"
        if info.description:
            lines.append(f"{pad}# {info.description}")
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not annotation.model_fields:
                lines.append(f"{pad}{key}: {{}}")
                continue
            lines.append(f"{pad}{key}:")
            _emit(annotation, f"{path}.", indent + 1, lines)
            continue
        value = _EXAMPLES.get(path, _default(info))
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:")
            for k, v in value.items():
                lines.append(
                    f"{pad}  {k}: {_scalar(v) if not isinstance(v, dict) else ''}".rstrip()
                )
                if isinstance(v, dict):
                    for k2, v2 in v.items():
                        lines.append(f"{pad}    {json.dumps(k2)}: {_scalar(v2)}")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")


def sample_yaml() -> str:
    """A complete, valid, commented gristops.yaml."""
    lines = ["# gristops.yaml: every key with its default. Secrets come from ${ENV}."]
    _emit(Config, "", 0, lines)
    return "\n".join(lines) + "\n"
