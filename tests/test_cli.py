"""The command line: one-line errors with exit code 2; the final line of a local run."""

import subprocess
import sys

import pytest

from stainworth.cli import main
from stainworth.pipelines import PIPELINES


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["submit", "nosuch", "--profile", "smoke"],
         r"pipeline 'nosuch': unknown; expected one of \['cls_capacity', 'cls_learnable', 'prepare'"),
        (["submit", "simulate", "--profile", "tiny"], r"profile 'tiny': unknown"),
        (["submit", "simulate", "--profile", "smoke", "--set", "simulate.seed=x"], r"field 'simulate.seed'"),
        (["compile", "--profile", "smoke", "--set", "cluster.retries=99"], r"field 'cluster.retries'"),
    ],
)
def test_bad_input_one_line_exit_2(argv, pattern, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KFP_HOST", raising=False)
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("stainworth: error: ")
    assert __import__("re").search(pattern, error)
    assert not (tmp_path / "runs").exists()


def test_unreachable_store_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STAINWORTH_STORE", "s3://bucket/prefix")
    monkeypatch.setenv("MINIO_ENDPOINT", "127.0.0.1:9")
    monkeypatch.setenv("MINIO_ACCESS_KEY", "a")
    monkeypatch.setenv("MINIO_SECRET_KEY", "b")
    monkeypatch.delenv("KFP_HOST", raising=False)
    code = main(["submit", "simulate", "--profile", "smoke", "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "unreachable after" in error and "127.0.0.1:9" in error
    assert not (tmp_path / "runs").exists()


def test_missing_credentials_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STAINWORTH_STORE", "s3://bucket/prefix")
    monkeypatch.setenv("MINIO_ENDPOINT", "127.0.0.1:9")
    monkeypatch.delenv("MINIO_ACCESS_KEY", raising=False)
    monkeypatch.delenv("MINIO_SECRET_KEY", raising=False)
    monkeypatch.delenv("KFP_HOST", raising=False)
    assert main(["submit", "simulate", "--profile", "smoke", "--runs-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "MINIO_ACCESS_KEY" in error


def test_compile_writes_every_pipeline(tmp_path):
    assert main(["compile", "--profile", "smoke", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.yaml" for name in PIPELINES)
    assert {"cls_capacity.yaml", "seg_learnable.yaml", "study.yaml"} <= {p.name for p in tmp_path.iterdir()}


def test_compile_refuses_an_external_stainer_the_pods_cannot_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "cls_capacity", "--profile", "smoke", "--set",
                 "stain.external=[{name: mylab, model: /home/me/stainer.onnx}]"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "stain.external[0].model: /home/me/stainer.onnx is a path on this machine" \
        in error and "s3:// URI" in error
    assert main(["compile", "cls_capacity", "--profile", "smoke", "--set",
                 "stain.external=[{name: mylab, model: 's3://models/stainer.onnx'}, {name: cyto, images: "
                 "/scratch/lab/cyto}]", "--set", "cluster.scratch_pvc=lab-scratch", "--out", str(tmp_path / "d")]) == 0


def test_compile_refuses_an_ingest_spec_the_pods_cannot_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "cls_capacity", "--profile", "smoke", "--set",
                 "prepare.source.ingest_spec=/home/me/lab/spec.yaml"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "prepare.source.ingest_spec: /home/me/lab/spec.yaml is a path on this machine" \
        in error and "cluster.scratch_pvc set" in error
    assert not (tmp_path / "dist").exists()
    on_volume = ["--set", "cluster.scratch_pvc=lab-scratch",
                 "--set", "prepare.source.ingest_spec=/scratch/lab/spec.yaml"]
    assert main(["compile", "cls_capacity", "--profile", "smoke", *on_volume, "--out", str(tmp_path / "dist")]) == 0
    assert (tmp_path / "dist" / "cls_capacity.yaml").is_file()
    assert main(["compile", "cls_capacity", "--profile", "smoke", "--set", "cluster.scratch_pvc=lab-scratch",
                 "--set", "prepare.source.ingest_spec=lab/spec.yaml", "--out", str(tmp_path / "other")]) == 2
    assert "expected a path under /scratch (the volume lab-scratch)" in capsys.readouterr().err


def test_submit_local_end_to_end_last_line_names_outputs(tmp_path):
    env_store = f"file://{tmp_path}/store"
    result = subprocess.run(
        [sys.executable, "-m", "stainworth.cli", "submit", "simulate", "--profile", "smoke",
         "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**__import__("os").environ, "STAINWORTH_STORE": env_store, "KFP_HOST": ""},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("done in ") and f"store: {env_store}" in last and "outputs: acquisitions: " in last


POOL = """GPU_NODE_LABEL_KEY=cloud.google.com/gke-accelerator
GPU_NODE_LABEL_VALUE=nvidia-l4
GPU_TAINT_KEY=gpu
GPU_TAINT_VALUE=true
GPU_TAINT_EFFECT=NoSchedule
SCRATCH_PVC=lab-scratch
"""


def test_an_overlay_places_training_tasks_on_its_gpu_pool(tmp_path):
    import yaml

    (tmp_path / "overlay").mkdir()
    (tmp_path / "overlay" / "gpu-pool.env").write_text(POOL)
    assert main(["compile", "cls_capacity", "--profile", "smoke", "--overlay", str(tmp_path / "overlay"),
                 "--out", str(tmp_path / "dist")]) == 0
    spec, platform = list(yaml.safe_load_all((tmp_path / "dist" / "cls_capacity.yaml").read_text()))
    placement = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    train = placement["exec-train-task"]
    assert train["nodeSelector"]["labels"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert train["tolerations"] == [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    assert "nodeSelector" not in placement["exec-evaluate"]
    for name, executor in placement.items():
        assert executor["pvcMount"][0]["mountPath"] == "/scratch", name
        env = {e["name"]: e["value"] for e in spec["deploymentSpec"]["executors"][name]["container"]["env"]}
        assert env["TMPDIR"] == "/scratch", name
    assert all(executor["pvcMount"][0]["constant"] == "lab-scratch" for executor in placement.values())


def test_a_bad_overlay_is_one_line(tmp_path, capsys):
    (tmp_path / "gpu-pool.env").write_text(POOL.replace("NoSchedule", "Never"))
    assert main(["compile", "cls_capacity", "--profile", "smoke", "--overlay", str(tmp_path),
                 "--out", str(tmp_path / "dist")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "GPU_TAINT_EFFECT" in error and not (tmp_path / "dist").exists()


def test_watch_on_a_store_no_poll_reaches_ends_with_its_error_and_exit_code_2(tmp_path, capsys, monkeypatch,
                                                                           s3_outage, new_bucket):
    from stainworth.store import open_store

    store_uri = f"s3://{new_bucket('watch-cli')}/lab"
    open_store(store_uri).put_bytes("acquisitions/README", b"the bucket exists")
    monkeypatch.setenv("STAINWORTH_STORE", store_uri)
    s3_outage.cut()
    assert main(["watch", "--profile", "smoke", "--polls", "2", "--interval", "0", "--runs-dir", str(tmp_path / "runs"),
                 "--set", "retrain.holdout_acquisitions=[hold]"]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "watch: 2 poll(s), 0 retrain run(s), 0 failed"
    assert captured.err.count("\n") == 1 and captured.err.startswith("stainworth: error: store s3://")
    assert "unreachable" in captured.err and not (tmp_path / "runs").exists()


def test_watch_polls_and_says_nothing_is_new(tmp_path, capsys, monkeypatch):
    from stainworth.contracts.manifest import OutputManifest, write_manifest
    from stainworth.store import open_store

    monkeypatch.setenv("STAINWORTH_STORE", f"file://{tmp_path}/store")
    folder = tmp_path / "hold"
    folder.mkdir()
    write_manifest(OutputManifest(stage="ingest", config={}, config_hash="0" * 64), folder)
    open_store(f"file://{tmp_path}/store").publish_dir(folder, "acquisitions/hold")
    assert main(["watch", "--profile", "smoke", "--polls", "2", "--interval", "0", "--runs-dir", str(tmp_path / "runs"),
                 "--set", "retrain.holdout_acquisitions=[hold]"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == ["watch: poll 1: nothing new", "watch: poll 2: nothing new",
                       "watch: 2 poll(s), 0 retrain run(s), 0 failed"]
    assert main(["watch", "--profile", "smoke", "--polls", "1", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "retrain.holdout_acquisitions: empty" in capsys.readouterr().err
