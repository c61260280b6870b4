"""alertmanager.yml from the `observe.receivers` of gristops.yaml.

Secrets (SMTP password, webhook and ntfy tokens) go to files beside the
config, readable by the owner only, and the config names them with
Alertmanager's `*_file` keys, so alertmanager.yml itself can be shown.
Every configured receiver gets every alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from gristops.config.observe import NtfyReceiver, Receivers

RECEIVER = "gristops"
SECRETS_DIR = "secrets"
# ntfy (2.10+) fills these Go templates from Alertmanager's webhook JSON.
NTFY_TITLE = "[{{.status}}] {{.commonLabels.alertname}}"
NTFY_MESSAGE = "{{range .alerts}}{{.annotations.summary}}\n{{end}}"


@dataclass
class AlertmanagerFiles:
    """The config text and the secret files it refers to (name under secrets/ -> value)."""

    config: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)

    def secret_file(self, name: str, value: SecretStr) -> str:
        """Remember a secret and return the path the config uses for it."""
        self.secrets[name] = value.get_secret_value()
        return f"{SECRETS_DIR}/{name}"


def ntfy_url(receiver: NtfyReceiver) -> str:
    """The topic URL with ntfy's template parameters, so alerts arrive as readable text."""
    query = urlencode({"tpl": "yes", "t": NTFY_TITLE, "m": NTFY_MESSAGE})
    return f"{receiver.topic_url}?{query}"


def _bearer(files: AlertmanagerFiles, name: str, token: SecretStr | None) -> dict[str, Any]:
    if token is None:
        return {}
    return {"http_config": {"authorization": {"credentials_file": files.secret_file(name, token)}}}


def alertmanager_config(receivers: Receivers) -> AlertmanagerFiles:
    """The Alertmanager config (as a mapping) and its secrets for these receivers."""
    files = AlertmanagerFiles(config={})
    receiver: dict[str, Any] = {"name": RECEIVER}
    glob: dict[str, Any] = {"resolve_timeout": "5m"}
    if receivers.email is not None:
        email = receivers.email
        glob.update(smtp_smarthost=email.smarthost, smtp_from=email.sender)
        glob["smtp_require_tls"] = email.require_tls
        if email.username is not None:
            glob["smtp_auth_username"] = email.username
        if email.password is not None:
            glob["smtp_auth_password_file"] = files.secret_file("smtp_password", email.password)
        receiver["email_configs"] = [{"to": ", ".join(email.to), "send_resolved": True}]
    webhooks: list[dict[str, Any]] = []
    if receivers.webhook is not None:
        hook = receivers.webhook
        webhooks.append(
            {"url": hook.url, "send_resolved": True}
            | _bearer(files, "webhook_token", hook.bearer_token)
        )
    if receivers.ntfy is not None:
        ntfy = receivers.ntfy
        webhooks.append(
            {"url": ntfy_url(ntfy), "send_resolved": True}
            | _bearer(files, "ntfy_token", ntfy.token)
        )
    if webhooks:
        receiver["webhook_configs"] = webhooks
    files.config = {
        "global": glob,
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "instance"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            # Pages repeat sooner than tickets while they last.
            "routes": [{"matchers": ['severity="page"'], "repeat_interval": "1h"}],
        },
        # While no gateway answers, its store, latency and error alerts say nothing new.
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="GatewayDown"'],
                "target_matchers": [
                    'alertname=~"StoreUnreachable|GristCircuitOpen|GatewayLatencyHigh|ErrorBudgetBurn.*"'
                ],
            }
        ],
        "receivers": [receiver],
    }
    return files
