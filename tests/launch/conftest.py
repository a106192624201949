"""A Kubeflow Pipelines REST API (v2beta1) server on 127.0.0.1, for the cluster target's tests.

It implements the endpoints the real ``kfp.Client`` calls to upload a pipeline (or a version)
and start a run or a recurring run in an experiment, keeps what it received, and answers as the KFP API server does.
"""

from __future__ import annotations

import json
import threading
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

PREFIX = "/apis/v2beta1"


class KfpApiState:
    def __init__(self) -> None:
        self.experiments: list[dict] = []
        self.pipelines: list[dict] = []
        self.versions: list[dict] = []
        self.runs: list[dict] = []
        self.recurring_runs: list[dict] = []
        self.packages: list[str] = []


def _filter_value(query: dict) -> str | None:
    if "filter" not in query:
        return None
    predicates = json.loads(query["filter"][0]).get("predicates", [])
    return predicates[0].get("stringValue") if predicates else None


class Handler(BaseHTTPRequestHandler):
    state: KfpApiState

    def log_message(self, *args) -> None:  # keep test output quiet
        return

    def _reply(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json_body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def _uploaded_text(self) -> str:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "uploadfile":
                return part.get_payload(decode=True).decode()
        raise ValueError("multipart body without 'uploadfile'")

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query, path = parse_qs(url.query), url.path.removeprefix(PREFIX)
        if path == "/healthz":
            return self._reply({"multi_user": False})
        if path == "/experiments":
            name = _filter_value(query)
            found = [e for e in self.state.experiments if name is None or e["display_name"] == name]
            return self._reply({"experiments": found, "total_size": len(found)} if found else {})
        if path == "/pipelines":
            name = _filter_value(query)
            found = [p for p in self.state.pipelines if name is None or p["display_name"] == name]
            return self._reply({"pipelines": found, "total_size": len(found)} if found else {})
        if path.startswith("/pipelines/") and path.endswith("/versions"):
            pipeline_id = path.split("/")[2]
            found = [v for v in self.state.versions if v["pipeline_id"] == pipeline_id]
            return self._reply({"pipeline_versions": found, "total_size": len(found)})
        return self._reply({"error": f"no route {path}"}, 404)

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query, path = parse_qs(url.query), url.path.removeprefix(PREFIX)
        if path == "/experiments":
            experiment = self._json_body() | {"experiment_id": str(uuid.uuid4())}
            self.state.experiments.append(experiment)
            return self._reply(experiment)
        if path in {"/pipelines/upload", "/pipelines/upload_version"}:
            text = self._uploaded_text()
            yaml.safe_load_all(text)  # a real server refuses what it cannot parse
            self.state.packages.append(text)
            name = query.get("name", query.get("display_name", ["unnamed"]))[0]
            if path == "/pipelines/upload":
                pipeline = {"pipeline_id": str(uuid.uuid4()), "display_name": name}
                self.state.pipelines.append(pipeline)
                pipeline_id = pipeline["pipeline_id"]
            else:
                pipeline_id = query["pipelineid"][0]
            version = {"pipeline_id": pipeline_id, "pipeline_version_id": str(uuid.uuid4()),
                       "display_name": name}
            self.state.versions.append(version)
            return self._reply(pipeline if path == "/pipelines/upload" else version)
        if path == "/runs":
            run = self._json_body() | {"run_id": str(uuid.uuid4()), "state": "PENDING"}
            self.state.runs.append(run)
            return self._reply(run)
        if path == "/recurringruns":
            recurring = self._json_body() | {"recurring_run_id": str(uuid.uuid4()), "status": "ENABLED"}
            self.state.recurring_runs.append(recurring)
            return self._reply(recurring)
        return self._reply({"error": f"no route {path}"}, 404)


@pytest.fixture
def kfp_api():
    """(host URL, state) of a KFP API server running on a free loopback port."""
    state = KfpApiState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()
