"""`make images`: engine detection, the exact build and push commands, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stainworth import __version__
from stainworth.deploy import images
from stainworth.errors import ConfigError, PipelineError
from stainworth.images import image_name

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "registry.example.org:5000/lab"
DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"

FAKE_ENGINE = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
    log.write(json.dumps([name, *sys.argv[1:]]) + "\\n")
failing = os.environ.get("FAKE_FAIL_" + name.upper(), "")
if failing and sys.argv[1] == failing:
    print({message!r} if failing == "info" else "build went wrong", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def engines(tmp_path, monkeypatch):
    """A PATH holding only the fake engines a test installs; their calls are logged as JSON lines."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    log.touch()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(log))
    for name in ("IMAGE_REGISTRY", "IMAGE_TAG", "FAKE_FAIL_DOCKER", "FAKE_FAIL_BUILDAH"):
        monkeypatch.delenv(name, raising=False)

    class Engines:
        def install(self, name):
            path = bin_dir / name
            path.write_text(FAKE_ENGINE.format(python=sys.executable, message=DAEMON_DOWN))
            path.chmod(0o755)

        def calls(self):
            return [json.loads(line) for line in log.read_text().splitlines()]

    return Engines()


def expected_builds(engine, tag):
    return [[engine, "build", "--file", str(ROOT / "images" / f"{kind}.Dockerfile"), "--tag",
             f"{REGISTRY}/stainworth-{kind}:{tag}", str(ROOT)] for kind in ("cpu", "cuda")]


def expected_pushes(engine, tag):
    return [[engine, "push", f"{REGISTRY}/stainworth-{kind}:{tag}"] for kind in ("cpu", "cuda")]


def test_docker_builds_both_images_then_pushes_them(engines, capsys):
    engines.install("docker")
    commands = images.build_images(registry=REGISTRY, tag="1.2.3", push=True, root=ROOT)
    expected = expected_builds("docker", "1.2.3") + expected_pushes("docker", "1.2.3")
    assert commands == expected
    assert engines.calls() == [["docker", "info"], *expected]
    progress = capsys.readouterr().out
    assert "images 4/4 push registry.example.org:5000/lab/stainworth-cuda:1.2.3" in progress
    assert "images 1/4 build registry.example.org:5000/lab/stainworth-cpu:1.2.3" in progress


def test_names_are_the_pipelines_image_names(engines, monkeypatch):
    engines.install("docker")
    commands = images.build_images(registry=REGISTRY, tag="7.0", push=True, root=ROOT)
    assert "IMAGE_REGISTRY" not in os.environ and "IMAGE_TAG" not in os.environ  # restored as they were
    monkeypatch.setenv("IMAGE_REGISTRY", REGISTRY)
    monkeypatch.setenv("IMAGE_TAG", "7.0")
    assert [command[-1] for command in commands[2:]] == [image_name("cpu"), image_name("cuda")]


def test_main_reads_registry_and_tag_from_the_environment(engines, monkeypatch):
    engines.install("docker")
    monkeypatch.setenv("IMAGE_REGISTRY", REGISTRY)
    monkeypatch.setenv("IMAGE_TAG", "2.0.0rc1")
    assert images.main(["--root", str(ROOT)]) == 0
    assert engines.calls()[1:] == expected_builds("docker", "2.0.0rc1") + expected_pushes("docker", "2.0.0rc1")


def test_main_tags_with_the_package_version_and_no_push_only_builds(engines, monkeypatch):
    engines.install("docker")
    monkeypatch.setenv("IMAGE_REGISTRY", REGISTRY)
    assert images.main(["--no-push", "--root", str(ROOT)]) == 0
    assert engines.calls()[1:] == expected_builds("docker", __version__)


def test_no_push_without_registry_builds_the_default_local_names(engines):
    engines.install("docker")
    commands = images.build_images(registry=None, tag="0.1.0", push=False, root=ROOT)
    assert [command[5] for command in commands] == ["stainworth/stainworth-cpu:0.1.0",
                                                    "stainworth/stainworth-cuda:0.1.0"]


def test_buildah_when_the_docker_daemon_does_not_answer(engines, monkeypatch):
    engines.install("docker")
    engines.install("buildah")
    monkeypatch.setenv("FAKE_FAIL_DOCKER", "info")
    commands = images.build_images(registry=REGISTRY, tag="1.2.3", push=True, root=ROOT)
    expected = expected_builds("buildah", "1.2.3") + expected_pushes("buildah", "1.2.3")
    assert commands == expected
    assert engines.calls() == [["docker", "info"], ["buildah", "info"], *expected]


def test_engine_option_uses_only_that_engine(engines):
    engines.install("docker")
    engines.install("buildah")
    commands = images.build_images(registry=REGISTRY, tag="1", push=False, root=ROOT, engine="buildah")
    assert commands == expected_builds("buildah", "1")
    assert engines.calls()[0] == ["buildah", "info"]


def one_error_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_no_engine_at_all(engines, capsys, monkeypatch):
    monkeypatch.setenv("IMAGE_REGISTRY", REGISTRY)
    assert images.main(["--root", str(ROOT)]) == 2
    line = one_error_line(capsys)
    assert line == ("stainworth: error: images: no container engine: docker not found on PATH; buildah not found "
                    "on PATH; install and start one, or build images/cpu.Dockerfile and images/cuda.Dockerfile "
                    "elsewhere from the repository root")
    assert engines.calls() == []


def test_docker_installed_but_daemon_down_and_no_buildah(engines, capsys, monkeypatch):
    engines.install("docker")
    monkeypatch.setenv("FAKE_FAIL_DOCKER", "info")
    monkeypatch.setenv("IMAGE_REGISTRY", REGISTRY)
    assert images.main(["--root", str(ROOT)]) == 2
    line = one_error_line(capsys)
    bin_docker = Path(os.environ["PATH"]) / "docker"
    assert line.startswith(f"stainworth: error: images: no container engine: docker is installed ({bin_docker}) "
                           f"but its daemon does not answer ({DAEMON_DOWN}); buildah not found on PATH; ")
    assert engines.calls() == [["docker", "info"]]


def test_probe_timeout_counts_as_unusable(engines):
    engines.install("docker")

    def hanging(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    reason = images.probe_engine("docker", run=hanging)
    assert reason.endswith(f"but `docker info` did not answer within {images.PROBE_TIMEOUT_S} s")


def test_failed_build_stops_before_any_push(engines, monkeypatch):
    engines.install("docker")
    monkeypatch.setenv("FAKE_FAIL_DOCKER", "build")
    cpu_build = expected_builds("docker", "1.0")[0]
    with pytest.raises(PipelineError, match=r"^images: `docker build --file .*cpu\.Dockerfile --tag "
                       r"registry\.example\.org:5000/lab/stainworth-cpu:1\.0 .*` failed with exit code 1 "):
        images.build_images(registry=REGISTRY, tag="1.0", push=True, root=ROOT)
    assert engines.calls() == [["docker", "info"], cpu_build]


def test_push_needs_a_registry(engines, capsys):
    engines.install("docker")
    assert images.main(["--root", str(ROOT)]) == 2
    assert one_error_line(capsys) == (
        "stainworth: error: images: IMAGE_REGISTRY is not set; expected the registry to push to "
        "(e.g. IMAGE_REGISTRY=registry.example.org/lab), or --no-push to build only")
    assert engines.calls() == []


@pytest.mark.parametrize(("registry", "tag", "message"), [
    ("Registry.Example.org/Lab", "1.0", r"^images: IMAGE_REGISTRY 'Registry\.Example\.org/Lab': expected lowercase "),
    ("registry.example.org/lab/", "1.0", r"^images: IMAGE_REGISTRY 'registry\.example\.org/lab/': expected "),
    (REGISTRY, "v 1", r"^images: IMAGE_TAG 'v 1': expected at most 128 letters, digits"),
    (REGISTRY, ".hidden", r"^images: IMAGE_TAG '\.hidden': expected "),
])
def test_bad_registry_or_tag(engines, registry, tag, message):
    engines.install("docker")
    with pytest.raises(ConfigError, match=message):
        images.build_images(registry=registry, tag=tag, push=True, root=ROOT)
    assert engines.calls() == []


def test_root_without_dockerfiles(engines, tmp_path):
    engines.install("docker")
    with pytest.raises(ConfigError, match=rf"^images: {tmp_path}/images/cpu\.Dockerfile, {tmp_path}/images/cuda"
                       r"\.Dockerfile not found; expected the repository root as --root"):
        images.build_images(registry=REGISTRY, tag="1", push=True, root=tmp_path)


def test_unknown_engine():
    with pytest.raises(ConfigError, match=r"^images: engine 'podman': expected one of docker, buildah$"):
        images.find_engine("podman")


def test_module_entry_point_says_one_line_and_exits_non_zero(tmp_path):
    env = {"PATH": str(tmp_path), "IMAGE_REGISTRY": REGISTRY, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "stainworth.deploy.images", "--root", str(ROOT)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "stainworth: error: images: no container engine: docker not found on PATH; buildah not found on PATH; "
        "install and start one, or build images/cpu.Dockerfile and images/cuda.Dockerfile elsewhere from the "
        "repository root"]
