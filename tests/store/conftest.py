"""A real S3-speaking server process (moto's server mode) on 127.0.0.1, and stores on it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from stainworth.store import FileStore, S3Store

ACCESS_KEY = "stainworth-test-access"
SECRET_KEY = "Zq8-very-secret-value-0451"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def wait_until_answering(process: subprocess.Popen, url: str, log_path, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=10)
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the moto S3 server did not start at {url}:\n{tail}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """``host:port`` of a moto S3 server subprocess, stopped at the end of the session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(process, f"http://127.0.0.1:{port}/moto-api/data.json", log_path)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """Environment pointing the minio client at the test server (also set in os.environ)."""
    env = {
        "MINIO_ENDPOINT": s3_server,
        "MINIO_ACCESS_KEY": ACCESS_KEY,
        "MINIO_SECRET_KEY": SECRET_KEY,
    }
    for name in ("MINIO_SECURE", "MINIO_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def fresh_bucket(stem: str = "bkt") -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def new_bucket():
    """Make up bucket names no other test uses: ``new_bucket("stem")``."""
    return fresh_bucket


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 where nothing listens."""
    return free_port()


@pytest.fixture
def s3_store(s3_env):
    """An S3 store under a fresh bucket and prefix."""
    return S3Store(fresh_bucket(), "some/prefix", env=s3_env)


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path_factory):
    """Each kind of store, for the behaviour they must share (``tmp_path`` stays empty)."""
    if request.param == "file":
        return FileStore(tmp_path_factory.mktemp("filestore") / "root")
    return request.getfixturevalue("s3_store")
