"""The kustomize manifests: valid objects of the kinds they claim, rendered by kustomize, never a credential."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stainworth.contracts.cluster import ClusterConfig
from stainworth.deploy.overlay import cluster_settings, read_env_file
from stainworth.runner.platform import SECRET_KEYS

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
BASE = MANIFESTS / "base"
EXAMPLE = MANIFESTS / "overlays" / "example"
PLACEHOLDER = "REPLACE_ME"
NAMESPACE = "kubeflow"
API_VERSIONS = {
    "Namespace": "v1", "Secret": "v1", "ConfigMap": "v1", "PersistentVolumeClaim": "v1", "ServiceAccount": "v1",
    "Job": "batch/v1", "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
}
"""Every kind the manifests may hold, with its apiVersion."""
KUSTOMIZATION = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
KUSTOMIZATIONS = sorted(MANIFESTS.rglob("kustomization.yaml"))
OBJECT_FILES = sorted(p for p in MANIFESTS.rglob("*.yaml") if p.name != "kustomization.yaml")
# Known default or sample credentials (MinIO's, KFP's, AWS's documentation keys) and an access key id's shape.
CREDENTIAL_PATTERNS = [re.compile(p) for p in (r"minio123", r"minioadmin", r"AKIA[0-9A-Z]{16}", r"wJalrXUtnFEMI")]
TOKEN = re.compile(r"(?<![A-Za-z0-9/+=_-])[A-Za-z0-9/+=_-]{32,}(?![A-Za-z0-9/+=_-])")


def random_looking(token):
    """A secret key's shape: long, mixing upper case, lower case and digits (not a path or a name)."""
    return all(re.search(pattern, token) for pattern in (r"[A-Z]", r"[a-z]", r"[0-9]")) and not re.search(
        r"[a-z]{4,}/|/[a-z]{4,}", token)


def documents(path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def test_the_manifests_exist():
    assert [p.relative_to(MANIFESTS).as_posix() for p in KUSTOMIZATIONS] == [
        "base/kustomization.yaml", "overlays/example/kustomization.yaml"]
    assert {p.name for p in OBJECT_FILES} == {"minio-secret.yaml", "buckets-job.yaml", "scratch-pvc.yaml", "rbac.yaml"}


@pytest.mark.parametrize("path", OBJECT_FILES, ids=lambda p: p.relative_to(MANIFESTS).as_posix())
def test_every_object_is_a_kind_it_claims_with_its_api_version(path):
    objects = documents(path)
    assert objects, f"{path}: no object"
    for obj in objects:
        assert obj.get("kind") in API_VERSIONS, f"{path}: kind {obj.get('kind')!r}"
        assert obj.get("apiVersion") == API_VERSIONS[obj["kind"]], f"{path}: {obj['kind']} {obj.get('apiVersion')}"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", obj["metadata"]["name"]), obj["metadata"]


@pytest.mark.parametrize("path", KUSTOMIZATIONS, ids=lambda p: p.parent.relative_to(MANIFESTS).as_posix())
def test_every_file_a_kustomization_names_exists(path):
    (kustomization,) = documents(path)
    assert (kustomization["apiVersion"], kustomization["kind"]) == KUSTOMIZATION
    assert kustomization["namespace"] == NAMESPACE
    for resource in kustomization["resources"]:
        target = path.parent / resource
        assert target.is_file() or (target / "kustomization.yaml").is_file(), f"{path}: {resource} does not exist"
    for patch in kustomization.get("patches", []):
        assert "path" not in patch or (path.parent / patch["path"]).is_file(), f"{path}: {patch['path']}"
    for generator in kustomization.get("configMapGenerator", []):
        for env in generator.get("envs", []):
            assert (path.parent / env).is_file(), f"{path}: {env} does not exist"


def kustomize(folder):
    """Objects of ``kubectl kustomize folder`` (or ``kustomize build``), by (kind, name)."""
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(folder)]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", str(folder)]
    else:
        pytest.fail("neither kubectl nor kustomize is on PATH: install kubectl (Kustomize v5) to render manifests/")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in yaml.safe_load_all(result.stdout) if obj}


@pytest.fixture(scope="module")
def example():
    return kustomize(EXAMPLE)


@pytest.fixture(scope="module")
def base():
    return kustomize(BASE)


def test_example_overlay_renders_the_expected_objects_in_the_kfp_namespace(example):
    assert sorted(example) == [
        ("ConfigMap", "stainworth-gpu-pool"), ("Job", "stainworth-buckets"),
        ("PersistentVolumeClaim", "stainworth-scratch"), ("Role", "stainworth-reader"),
        ("RoleBinding", "stainworth-reader-pipeline-runner"), ("ServiceAccount", "stainworth-buckets")]
    for obj in example.values():
        assert obj["apiVersion"] == API_VERSIONS[obj["kind"]]
        assert obj["metadata"]["namespace"] == NAMESPACE
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "stainworth"


def test_example_overlay_leaves_the_secret_to_kubectl_create(example, base):
    """Applying the overlay never overwrites the real credentials with the template's placeholders."""
    assert not [key for key in example if key[0] == "Secret"]
    secret = base[("Secret", ClusterConfig().minio_secret)]
    assert "data" not in secret
    assert secret["stringData"] == {key: PLACEHOLDER for key in SECRET_KEYS}


def test_config_map_is_the_gpu_pool_file(example):
    data = example[("ConfigMap", "stainworth-gpu-pool")]["data"]
    assert data == {key: value for key, (_, value) in read_env_file(EXAMPLE / "gpu-pool.env").items()}
    settings = cluster_settings(EXAMPLE)
    assert settings["gpu_node_selector"] == {data["GPU_NODE_LABEL_KEY"]: data["GPU_NODE_LABEL_VALUE"]}
    assert (example[("PersistentVolumeClaim", settings["scratch_pvc"])]["spec"]["accessModes"]
            == ["ReadWriteMany"])
    assert example[("PersistentVolumeClaim", "stainworth-scratch")]["spec"]["resources"]["requests"] == {
        "storage": "200Gi"}


def test_buckets_job_reads_the_secret_and_the_config_map(example):
    job = example[("Job", "stainworth-buckets")]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    refs = {env["name"]: env["valueFrom"]["secretKeyRef"] for env in container["env"]}
    assert refs == {variable: {"name": ClusterConfig().minio_secret, "key": key}
                    for key, variable in SECRET_KEYS.items()}
    assert container["envFrom"] == [{"configMapRef": {"name": "stainworth-gpu-pool", "optional": True}}]
    assert re.fullmatch(r"minio/mc:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", container["image"])
    script = container["args"][0]
    assert "mc --config-dir /tmp/mc mb --ignore-existing" in script
    assert f"${{MINIO_ENDPOINT:-{ClusterConfig().minio_endpoint}}}" in script
    assert f"${{STORE_URI:-{ClusterConfig().store_uri}}}" in script
    assert "set -x" not in script  # would print the credentials into the pod's log
    assert pod["serviceAccountName"] == "stainworth-buckets" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_pipeline_runner_may_read_the_secret_and_config_map(example):
    role = example[("Role", "stainworth-reader")]
    granted = {(resource, name) for rule in role["rules"] for resource in rule["resources"]
               for name in rule["resourceNames"] if rule["verbs"] == ["get"]}
    assert granted == {("secrets", ClusterConfig().minio_secret), ("configmaps", "stainworth-gpu-pool")}
    binding = example[("RoleBinding", "stainworth-reader-pipeline-runner")]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "stainworth-reader"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "pipeline-runner", "namespace": NAMESPACE}]
    assert ("ServiceAccount", "pipeline-runner") not in example  # KFP's own account is bound, never redefined


@pytest.mark.parametrize("path", [*sorted(p for p in MANIFESTS.rglob("*") if p.is_file()), ROOT / "docs" / "deploy.md"],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_credential_anywhere(path):
    text = path.read_text()
    for pattern in CREDENTIAL_PATTERNS:
        assert not pattern.search(text), f"{path}: {pattern.search(text).group()!r} looks like a credential"
    assert not [token for token in TOKEN.findall(text) if random_looking(token)], f"{path}: a key-like string"
    if path.suffix == ".yaml":
        for obj in documents(path):
            if obj.get("kind") == "Secret":
                assert set(obj.get("stringData", {}).values()) == {PLACEHOLDER} and "data" not in obj
