"""scripts/smoke, the check to run after a deploy, against `manage.py local` (there is no AWS here)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_api(tmp_path_factory):
    import manage

    with manage.local_server_process(tmp_path_factory.mktemp("smoke"), start_timeout=60) as (port, _, keys_file, _):
        yield f"http://127.0.0.1:{port}", json.loads(keys_file.read_text())


def smoke(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "smoke"), *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_smoke_passes_against_the_local_server(local_api):
    url, keys = local_api
    result = smoke(url + "/", keys["referrer"])  # the deployed EndpointURL ends with a slash
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:4]] == [
        "ok   GET /health", "ok   GET /programmes without a key is refused",
        "ok   GET /programmes with an unknown key is refused", "ok   GET /programmes with the key"]
    assert lines[-1] == f"smoke test passed: {url} (5 programmes)"
    assert keys["referrer"] not in result.stdout + result.stderr


def test_the_key_may_come_from_the_environment(local_api):
    url, keys = local_api
    result = smoke(url, env={"REFPAY_API_KEY": keys["finance"], "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_smoke_fails_on_a_key_the_api_does_not_know(local_api):
    url, _ = local_api
    result = smoke(url, "rp_" + "B" * 43)
    assert result.returncode == 1
    assert "FAIL GET /programmes with the key: answered 401" in result.stderr
    assert "unauthenticated" in result.stderr


def test_smoke_fails_when_the_api_is_not_there():
    result = smoke("http://127.0.0.1:9", "rp_x")
    assert result.returncode == 1
    assert result.stderr.startswith("FAIL GET /health: cannot reach http://127.0.0.1:9")


def test_smoke_needs_a_key():
    result = smoke("http://127.0.0.1:9", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "REFPAY_API_KEY" in result.stderr


class _LetsEveryoneIn(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "items": [{"id": "x"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_smoke_fails_on_an_api_that_lets_anyone_in():
    """A deployment whose routes lost their authorizer answers everyone: the smoke test must say so."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LetsEveryoneIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = smoke(f"http://127.0.0.1:{server.server_port}", "rp_x")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert "FAIL GET /programmes without a key is refused: answered 200" in result.stderr
