"""A real S3-speaking server process (moto's server mode) on 127.0.0.1, and stores on it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from stainworth.store import FileStore, S3Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """``host:port`` of a moto S3 server subprocess, stopped at the end of the session."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """Environment pointing the minio client at the test server."""
    env = {"MINIO_ENDPOINT": s3_server, "MINIO_ACCESS_KEY": "test-access", "MINIO_SECRET_KEY": "test-secret-987"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3_store(s3_env):
    """An S3 store under a fresh bucket and prefix."""
    return S3Store(f"bkt-{uuid.uuid4().hex[:12]}", "some/prefix", env=s3_env)


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    """Each kind of store, for behaviour they must share."""
    if request.param == "file":
        return FileStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")
