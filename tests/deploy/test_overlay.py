"""An overlay's gpu-pool.env becomes the profile's cluster settings; bad files stop with one line."""

from pathlib import Path

import pytest

from stainworth.contracts.cluster import ClusterConfig
from stainworth.deploy.overlay import cluster_settings, read_env_file
from stainworth.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "manifests" / "overlays" / "example"

GOOD = """# GPU pool
GPU_NODE_LABEL_KEY=cloud.google.com/gke-accelerator
GPU_NODE_LABEL_VALUE=nvidia-l4

GPU_TAINT_KEY=nvidia.com/gpu
GPU_TAINT_VALUE=present
GPU_TAINT_EFFECT=NoExecute
"""


def write(tmp_path, text):
    (tmp_path / "gpu-pool.env").write_text(text)
    return tmp_path


def test_example_overlay_matches_its_file_and_validates():
    settings = cluster_settings(EXAMPLE)
    assert settings == {
        "gpu_node_selector": {"stainworth.io/pool": "gpu"},
        "gpu_toleration": {"key": "nvidia.com/gpu", "operator": "Exists", "value": None, "effect": "NoSchedule"},
        "minio_endpoint": "minio-service.kubeflow:9000",
        "store_uri": "s3://stainworth/store",
        "scratch_pvc": "stainworth-scratch",
    }
    raw = {key: value for key, (_, value) in read_env_file(EXAMPLE / "gpu-pool.env").items()}
    assert settings["gpu_node_selector"] == {raw["GPU_NODE_LABEL_KEY"]: raw["GPU_NODE_LABEL_VALUE"]}
    assert settings["gpu_toleration"]["key"] == raw["GPU_TAINT_KEY"]
    assert settings["gpu_toleration"]["effect"] == raw["GPU_TAINT_EFFECT"]
    cluster = ClusterConfig.model_validate({**ClusterConfig().model_dump(), **settings})
    assert cluster.gpu_node_selector == {"stainworth.io/pool": "gpu"}
    assert cluster.gpu_toleration is not None and cluster.gpu_toleration.operator == "Exists"
    assert cluster.scratch_pvc == "stainworth-scratch"


def test_taint_value_gives_an_equal_toleration(tmp_path):
    settings = cluster_settings(write(tmp_path, GOOD))
    assert settings == {
        "gpu_node_selector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
        "gpu_toleration": {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoExecute"},
    }
    cluster = ClusterConfig.model_validate(settings)
    assert cluster.gpu_toleration is not None and cluster.gpu_toleration.value == "present"


def test_the_file_itself_may_be_given(tmp_path):
    assert cluster_settings(write(tmp_path, GOOD) / "gpu-pool.env") == cluster_settings(tmp_path)


def test_untainted_pool_without_selector(tmp_path):
    text = "GPU_NODE_LABEL_KEY=\nGPU_NODE_LABEL_VALUE=\nGPU_TAINT_KEY=\nGPU_TAINT_VALUE=\nGPU_TAINT_EFFECT=\n"
    settings = cluster_settings(write(tmp_path, text))
    assert settings == {"gpu_node_selector": {}, "gpu_toleration": None}
    cluster = ClusterConfig.model_validate(settings)
    assert cluster.gpu_toleration is None and cluster.gpu_node_selector == {}


def replaced(old, new):
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(("text", "message"), [
    (GOOD + "GPU_POOL\n", r"gpu-pool\.env:8: 'GPU_POOL' without '='; expected KEY=VALUE \(an empty value is "
     r"written KEY=\)$"),
    (GOOD + "zuf+tfteSlswRu7BJ86wekitnifILbZam1KYY3TG\n", r"gpu-pool\.env:8: a line of 40 characters without '='; "
     r"expected KEY=VALUE"),
    (GOOD + "GPU_COUNT=2\n", r"gpu-pool\.env:8: unknown key 'GPU_COUNT'; expected one of GPU_NODE_LABEL_KEY, "),
    (GOOD + "GPU_TAINT_EFFECT=NoSchedule\n", r"gpu-pool\.env:8: GPU_TAINT_EFFECT repeats line 7; expected each key "
     r"once$"),
    (replaced("NoExecute", "NoSchedul"), r"gpu-pool\.env:7: GPU_TAINT_EFFECT='NoSchedul': expected one of "
     r"NoSchedule, PreferNoSchedule, NoExecute$"),
    (replaced("GPU_TAINT_EFFECT=NoExecute\n", ""), r"gpu-pool\.env: GPU_TAINT_EFFECT missing; expected a line "
     r"GPU_TAINT_EFFECT=\.\.\. "),
    (replaced("=nvidia-l4", " = nvidia-l4"), r"gpu-pool\.env:3: GPU_NODE_LABEL_VALUE: spaces around the key or "
     r"value \(kustomize keeps them\); expected GPU_NODE_LABEL_VALUE=VALUE without spaces$"),
    (replaced("=nvidia-l4", '="nvidia-l4"'), r"gpu-pool\.env:3: GPU_NODE_LABEL_VALUE='\"nvidia-l4\"': expected at "
     r"most 63 letters, digits"),
    (replaced("=nvidia-l4", "=" + "x" * 64), r"gpu-pool\.env:3: GPU_NODE_LABEL_VALUE='x{64}': expected at most 63 "),
    (replaced("cloud.google.com/gke-accelerator", "Cloud_Google/gke"), r"gpu-pool\.env:2: GPU_NODE_LABEL_KEY="
     r"'Cloud_Google/gke': expected a label key such as stainworth\.io/pool"),
    (replaced("GPU_TAINT_KEY=nvidia.com/gpu", "GPU_TAINT_KEY="), r"gpu-pool\.env:6: GPU_TAINT_VALUE='present' while "
     r"GPU_TAINT_KEY is empty; expected GPU_TAINT_VALUE and GPU_TAINT_EFFECT empty too \(an untainted pool\)"),
    (replaced("GPU_NODE_LABEL_KEY=cloud.google.com/gke-accelerator", "GPU_NODE_LABEL_KEY="),
     r"gpu-pool\.env:3: GPU_NODE_LABEL_VALUE='nvidia-l4' while GPU_NODE_LABEL_KEY is empty; expected "
     r"GPU_NODE_LABEL_VALUE empty too \(no node selector\), or GPU_NODE_LABEL_KEY set$"),
    (GOOD + "STORE_URI=/data/store\n", r"gpu-pool\.env:8: STORE_URI='/data/store': expected s3://bucket/prefix"),
    (GOOD + "MINIO_ENDPOINT=minio service:9000\n", r"gpu-pool\.env:8: MINIO_ENDPOINT='minio service:9000': "
     r"expected host:port or http\(s\)://host:port"),
    (GOOD + "SCRATCH_PVC=Scratch_PVC\n", r"gpu-pool\.env:8: SCRATCH_PVC='Scratch_PVC': expected a "
     r"PersistentVolumeClaim name"),
])
def test_bad_files_stop_with_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/{message}") as caught:
        cluster_settings(write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_credentials_are_refused_without_showing_them(tmp_path):
    with pytest.raises(ConfigError, match=r"gpu-pool\.env:8: MINIO_SECRET_KEY: credentials do not belong in "
                       r"gpu-pool\.env \(it becomes a ConfigMap\); expected them in the Secret stainworth-minio") \
            as caught:
        cluster_settings(write(tmp_path, GOOD + "MINIO_SECRET_KEY=hunter2-very-secret\n"))
    assert "hunter2" not in str(caught.value)


def test_not_utf8(tmp_path):
    (tmp_path / "gpu-pool.env").write_bytes(GOOD.encode() + b"GPU_TAINT_VALUE=\xff\n")
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/gpu-pool\.env: byte \d+ is not UTF-8; expected a text file"):
        cluster_settings(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/gpu-pool\.env: not found; expected the overlay's GPU pool "
                       r"settings as KEY=VALUE lines \(see manifests/overlays/example/gpu-pool\.env\)$"):
        cluster_settings(tmp_path)
