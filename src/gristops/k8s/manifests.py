"""The kustomize base of a gateway fleet, built from one gristops.yaml.

Everything that the config decides (port, data directory, secrets, scheduled
backups and drills, graceful stop) is taken from it, so the manifests cannot
drift from the config they ship in their ConfigMap.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from gristops.config import Config
from gristops.config.files import file_keys
from gristops.config.observe import JobSpec
from gristops.errors import ConfigError
from gristops.k8s.cron import cron_schedule

NAME = "gristops"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "gateway"}
CONFIG_FILE = "gristops.yaml"
CONFIG_DIR = PurePosixPath("/etc/gristops/config")
SECRETS_DIR = PurePosixPath("/etc/gristops/secrets")
SECRET = f"{NAME}-secrets"
CONFIG_MAP = f"{NAME}-config"
UID = 10001  # any non-root id: the image needs no user of its own
# Verbs that run as CronJobs: the ones whose work is not tied to one machine's files.
CRON_VERBS = ("backup",)
HEADER = (
    "# Rendered by `gristops k8s render` from gristops.yaml: edit that file and render again.\n"
)
Manifest = dict[str, Any]


def check_config(config: Config) -> None:
    """ConfigError listing everything that cannot work in a pod."""
    problems = []
    if config.server.host not in ("0.0.0.0", "::"):  # noqa: S104 - a pod listens on its own IP
        problems.append(
            f"server.host is {config.server.host}: the probes and the Service cannot reach "
            "it (set server.host: 0.0.0.0)"
        )
    if config.store_kind != "grist":
        # Each pod's data directory is its own: documents there would differ pod by pod.
        problems.append(
            f"the documents are served from files ({config.store_kind} store), which the pods "
            "do not share (set grist.base_url to a Grist server, without grist.docs_dir)"
        )
    if config.state.url is None:
        # The Deployment runs several pods, each with its own emptyDir: SQLite there is per pod.
        problems.append(
            "state.url is unset, so each pod would keep its own state: a refresh token or a "
            "lockout of one pod would be unknown to the others "
            '(set state: {url: "${GRISTOPS_STATE_URL}"}, a PostgreSQL database)'
        )
    if not config.data_dir.is_absolute():
        problems.append(
            f"data_dir is {config.data_dir}, relative to the read-only config directory "
            "(set an absolute one, e.g. /var/lib/gristops)"
        )
    for key, path in file_keys(config):
        if PurePosixPath(path).parent != SECRETS_DIR:
            problems.append(f"{key} is {path}: secret files are mounted in {SECRETS_DIR}/")
    if problems:
        raise ConfigError(
            "this config cannot run in Kubernetes: " + "; ".join(problems),
            "fix gristops.yaml and render again",
        )


def secret_keys(config: Config, env: list[str]) -> list[str]:
    """The Secret's keys: each `*_file` key's file name, then each ${ENV} variable."""
    return [PurePosixPath(path).name for _, path in file_keys(config)] + env


def render_base(config: Config, config_text: str, env: list[str], image: str) -> dict[str, str]:
    """File name -> text of the kustomize base (`env`: the ${ENV} names the config uses)."""
    check_config(config)
    keys = secret_keys(config, env)
    jobs = [job for job in config.observe.agent.jobs if job.command[0] in CRON_VERBS]
    objects: dict[str, Manifest] = {
        "deployment.yaml": _deployment(config, env, keys, image),
        "service.yaml": _service(config),
        "pdb.yaml": _pdb(),
        "hpa.yaml": _hpa(),
    }
    if keys:
        objects["secret.yaml"] = _secret(keys)
    for job in jobs:
        objects[f"cronjob-{job.name}.yaml"] = _cronjob(config, job, env, keys, image)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(objects),
        # A generated name (with a hash of the file) rolls the pods when the config changes.
        "configMapGenerator": [{"name": CONFIG_MAP, "files": [CONFIG_FILE]}],
    }
    files = {name: HEADER + _dump(obj) for name, obj in objects.items()}
    return {**files, "kustomization.yaml": HEADER + _dump(kustomization), CONFIG_FILE: config_text}


def _dump(obj: Manifest) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def _meta(name: str, labels: dict[str, str] = LABELS) -> Manifest:
    return {"name": name, "labels": dict(labels)}


def _pod(
    config: Config, container: Manifest, env: list[str], keys: list[str], image: str
) -> Manifest:
    """A pod spec running `container` (gristops with the config and secrets), non-root."""
    mounts = [
        {"name": "config", "mountPath": str(CONFIG_DIR), "readOnly": True},
        {"name": "data", "mountPath": str(config.data_dir)},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the pod's own scratch volume
    ]
    volumes: list[Manifest] = [
        {"name": "config", "configMap": {"name": CONFIG_MAP}},
        {"name": "data", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    files = [key for key in keys if key not in env]
    if files:
        mounts.append({"name": "secrets", "mountPath": str(SECRETS_DIR), "readOnly": True})
        secret = {"secretName": SECRET, "items": [{"key": k, "path": k} for k in files]}
        volumes.append({"name": "secrets", "secret": {**secret, "defaultMode": 0o400}})
    variables: list[Manifest] = [
        {"name": "GRISTOPS_CONFIG", "value": str(CONFIG_DIR / CONFIG_FILE)}
    ]
    variables += [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": name}}} for name in env
    ]
    return {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "image": image,
                "command": ["gristops"],
                **container,
                "env": variables,
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": mounts,
            }
        ],
        "volumes": volumes,
    }


def _deployment(config: Config, env: list[str], keys: list[str], image: str) -> Manifest:
    port = config.server.port
    gateway = {
        "name": "gateway",
        "args": ["serve"],
        "ports": [{"name": "http", "containerPort": port}],
        # Ready: answers and can reach its store; alive: the process answers at all.
        "readinessProbe": _probe("/ready", period=5, failures=2),
        "livenessProbe": _probe("/health", period=10, failures=3),
        "startupProbe": _probe("/health", period=2, failures=30),
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        # The Service stops sending here before the gateway stops accepting.
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
    }
    pod = _pod(config, gateway, env, keys, image)
    pod["terminationGracePeriodSeconds"] = config.server.graceful_timeout + 10
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME),
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": dict(LABELS)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": dict(LABELS),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod,
            },
        },
    }


def _probe(path: str, *, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _service(config: Config) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(NAME),
        "spec": {
            "selector": dict(LABELS),
            "ports": [{"name": "http", "port": config.server.port, "targetPort": "http"}],
        },
    }


def _secret(keys: list[str]) -> Manifest:
    """Every key, empty: an overlay's secretGenerator fills them (never committed)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(SECRET),
        "type": "Opaque",
        "stringData": dict.fromkeys(keys, ""),
    }


def _pdb() -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(NAME),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(LABELS)}},
    }


def _hpa() -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(NAME),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def _cronjob(config: Config, job: JobSpec, env: list[str], keys: list[str], image: str) -> Manifest:
    container = {
        "name": job.name,
        "args": list(job.command),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
    }
    pod = _pod(config, container, env, keys, image)
    pod["restartPolicy"] = "Never"
    # Not the gateway's labels: the Service, PDB and HPA must not count these pods.
    labels = {**LABELS, "app.kubernetes.io/component": job.name}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(f"{NAME}-{job.name}", labels),
        "spec": {
            "schedule": cron_schedule(job),
            "timeZone": "Etc/UTC",
            # Like the agent: never two runs of one job at once.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": job.timeout,
                    "template": {"metadata": {"labels": labels}, "spec": pod},
                }
            },
        },
    }
