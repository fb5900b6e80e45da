"""The local stack behind `scripts/dev run` (`manage.py local`), and how other commands find it.

The stack: Amazon's DynamoDB Local (Java) for the tables, moto's server for S3 (the claim files) and KMS (the key
of the personal fields), the tables created from infra/template.json, the demo organisations and keys, and the
API under `chalice local`. Where Java is missing, moto's embedded DynamoDB stands in, with a warning: it is fine
for trying the API, not for load.

While it runs, the stack is described in a state file (`.local/stack.json`, or the file named by
REFPAY_LOCAL_STACK_FILE): its endpoints, stage, region and the process that owns it. The file is removed when
the stack stops. `use_running_stack()` applies the rule that lets every other manage.py command use it without
any environment variable set by hand; see its docstring.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import dynamodb_local

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_FILE = ROOT / ".local" / "stack.json"
STATE_FILE_ENV = "REFPAY_LOCAL_STACK_FILE"
ENGINE_ENV = "REFPAY_LOCAL_ENGINE"
ENGINES = ("auto", "dynamodb-local", "moto")
REGION = "eu-west-2"
# Any of these in the environment means the caller chose where AWS is: the local stack is then left alone.
POINTS_ELSEWHERE = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
                    "AWS_PROFILE")
STOP_GRACE = 0.5  # seconds a child gets between SIGTERM and SIGKILL (DynamoDB Local holds nothing on disk)


def state_file() -> Path:
    named = os.environ.get(STATE_FILE_ENV)
    return Path(named) if named else DEFAULT_STATE_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_stack(path: Path | None = None) -> dict | None:
    """The state of a local stack that is up (its owner alive and its DynamoDB answering), else None."""
    path = path or state_file()
    try:
        state = json.loads(path.read_text())
        pid, endpoint = int(state["pid"]), state["dynamodb"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or not dynamodb_local.answers(endpoint):
        return None
    return state


def use_running_stack(environ=None, path: Path | None = None) -> dict | None:
    """The rule by which manage.py commands (all but `local`) talk to the local stack.

    They use it when both hold:
      1. nothing in the environment says where AWS is: none of AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB,
         AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID or AWS_PROFILE is set; and
      2. a local stack is up: its state file (.local/stack.json, or $REFPAY_LOCAL_STACK_FILE) exists, the process
         that wrote it is alive and its DynamoDB answers.
    Then the stack's endpoints, local credentials (its namespace as the access key id) and region are set for
    this process, with the stack's stage
    and pinned date unless REFPAY_STAGE / REFPAY_TODAY are set already. Otherwise nothing changes, and boto3
    finds AWS as usual (a profile in ~/.aws included). To reach AWS while a local stack runs, name the account:
    set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    """
    environ = os.environ if environ is None else environ
    if any(environ.get(name) for name in POINTS_ELSEWHERE):
        return None
    state = running_stack(path)
    if state is None:
        return None
    environ["AWS_ENDPOINT_URL_DYNAMODB"] = state["dynamodb"]
    environ["AWS_ENDPOINT_URL_S3"] = state["s3"]
    environ["AWS_ENDPOINT_URL_KMS"] = state.get("kms") or state["s3"]
    environ["AWS_ACCESS_KEY_ID"] = state.get("namespace") or "local"
    environ["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 - DynamoDB Local accepts any key
    environ["AWS_DEFAULT_REGION"] = state.get("region") or REGION
    environ.setdefault("REFPAY_STAGE", state["stage"])
    if state.get("today"):
        environ.setdefault("REFPAY_TODAY", state["today"])
    return state


# ------------------------------------------------------------------------------------------------ the run


@dataclass
class Options:
    port: int = 8000
    db_port: int = 8001
    s3_port: int = 8002
    keys_file: Path = ROOT / ".local" / "demo-keys.json"
    engine: str = "auto"
    dynamodb_endpoint: str | None = None  # use this DynamoDB (already running) instead of starting one
    namespace: str = "local"  # the access key id: on a DynamoDB Local without -sharedDb, whose tables these are
    stage: str = "dev"
    state_file: Path | None = None
    demo_history: bool = True  # last month's demo referrals, started, whose lines wait for its claim file


class _Stop(Exception):
    def __init__(self, code: int):
        self.code = code


def _warn(text: str) -> None:
    bar = "!" * 100
    print(f"\n{bar}\nWARNING: {text}\n{bar}\n", file=sys.stderr, flush=True)


def _choose_engine(options: Options):
    """('dynamodb-local', Java) or ('moto', None), or raise SystemExit(3) when DynamoDB Local was asked for and
    cannot run."""
    if options.engine == "moto":
        return "moto", None
    try:
        java = dynamodb_local.find_java()
        dynamodb_local.ensure_installed()
        return "dynamodb-local", java
    except dynamodb_local.Unavailable as exc:
        if options.engine == "dynamodb-local":
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(3) from None
        _warn(f"{exc}\nThis run falls back to moto's embedded DynamoDB. It serves the API and the walkthrough, but "
              "it is slow under load and its transactions are not isolated: do not test concurrency on it. "
              "Amazon's DynamoDB Local (Java 17+) is the local engine.")
        return "moto", None


def _stop_children(children: list[subprocess.Popen]) -> None:
    """SIGTERM every child at once, SIGKILL whatever still runs STOP_GRACE seconds later, and reap them all."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            child.wait(timeout=5)


def _write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(partial, path)


def _remove_state(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(path.read_text())["pid"] == os.getpid():
            path.unlink()


def _seed_last_month() -> None:
    """The demo's past: a few participants referred and started on the 10th of last month, with the clock on
    that day, so that last month's claim file has lines to cut (a month is cut once it has ended)."""
    from dateutil.relativedelta import relativedelta

    from chalicelib import clock
    from chalicelib.services.admin import seed_history

    day = (clock.today() - relativedelta(months=1)).replace(day=10)
    pinned = os.environ.get("REFPAY_TODAY")
    os.environ["REFPAY_TODAY"] = day.isoformat()
    try:
        made = seed_history(day)
    finally:
        if pinned is None:
            os.environ.pop("REFPAY_TODAY", None)
        else:
            os.environ["REFPAY_TODAY"] = pinned
    print(f"demo history: {len(made)} participants referred and started on {day} (last month's claim file)")


def run(options: Options) -> int:
    """Start the stack, serve until Ctrl-C (130), SIGTERM (0) or a child's death (1), then stop every process it
    started, Java included, within a few seconds. Children also die with this process if it is killed (Linux)."""
    import logging

    state_path = Path(options.state_file or state_file())
    children: list[subprocess.Popen] = []
    database: dynamodb_local.DynamoDBLocal | None = None

    def on_term(*_):
        raise _Stop(0)

    previous_term = signal.signal(signal.SIGTERM, on_term)
    code = 0
    try:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(name, None)
        os.environ.update(AWS_ACCESS_KEY_ID=options.namespace, AWS_SECRET_ACCESS_KEY="local",  # noqa: S106
                          AWS_DEFAULT_REGION=REGION, REFPAY_STAGE=options.stage)  # (DynamoDB Local takes any key)
        if options.dynamodb_endpoint:
            engine, java = "external", None
            endpoint = options.dynamodb_endpoint.rstrip("/")
            if not dynamodb_local.answers(endpoint):
                print(f"error: no DynamoDB answers at {endpoint}", file=sys.stderr)
                return 3
        else:
            engine, java = _choose_engine(options)
        if engine == "dynamodb-local":
            # Java first, before this process has any thread: its start-up overlaps the rest of ours.
            database = dynamodb_local.DynamoDBLocal(options.db_port, state_path.parent / "dynamodb-local.log")
            state_path.parent.mkdir(parents=True, exist_ok=True)
            database.start(java)
            children.append(database.process)
            endpoint = database.endpoint

        from moto.server import ThreadedMotoServer

        from devtools.moto_limits import as_dynamodb_today

        as_dynamodb_today()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the embedded servers' access log is noise
        if engine == "moto":
            # One moto server for both DynamoDB and S3, in this process.
            ThreadedMotoServer(ip_address="127.0.0.1", port=options.db_port, verbose=False).start()
            endpoint = s3_endpoint = f"http://127.0.0.1:{options.db_port}"
        else:
            ThreadedMotoServer(ip_address="127.0.0.1", port=options.s3_port, verbose=False).start()
            s3_endpoint = f"http://127.0.0.1:{options.s3_port}"
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        os.environ["AWS_ENDPOINT_URL_S3"] = s3_endpoint
        os.environ["AWS_ENDPOINT_URL_KMS"] = s3_endpoint  # moto's KMS holds the key of the personal fields
        if database is not None:
            database.wait_ready()

        from chalicelib.services.admin import seed_demo
        from chalicelib.store.files import create_bucket
        from chalicelib.store.tables import create_tables

        create_tables(options.stage)
        create_bucket()
        keys = seed_demo()
        if options.demo_history:
            _seed_last_month()
        keys_file = Path(options.keys_file)
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        keys_file.write_text(json.dumps(keys, indent=2) + "\n")

        described = {"dynamodb-local": f"Amazon's DynamoDB Local (Java {java.major if java else '?'})",
                     "moto": "moto's embedded DynamoDB (fallback: not for load or concurrency)",
                     "external": "the DynamoDB already running"}[engine]
        print(f"refpay local: {described} at {endpoint}; S3 (moto) at {s3_endpoint}; stage {options.stage}")
        print(f"demo API keys (also in {keys_file}):")
        for role in ("referrer", "provider", "prime", "finance", "admin"):
            print(f"  {role:9} {keys[role]}")

        api = subprocess.Popen([sys.executable, "-m", "devtools.chalice_local", "local", "--host", "127.0.0.1",
                                "--port", str(options.port), "--stage", options.stage, "--no-autoreload"],
                               cwd=ROOT, env=os.environ.copy(), stdin=subprocess.DEVNULL,
                               preexec_fn=dynamodb_local.child_preexec())
        children.insert(0, api)
        _write_state(state_path, {
            "pid": os.getpid(), "engine": engine, "api": f"http://127.0.0.1:{options.port}", "dynamodb": endpoint,
            "s3": s3_endpoint, "kms": s3_endpoint, "namespace": options.namespace, "stage": options.stage,
            "region": REGION,
            "today": os.environ.get("REFPAY_TODAY"), "keys_file": str(keys_file),
            "dynamodb_pid": database.pid if database else None, "api_pid": api.pid,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds")})
        print(f"manage.py commands use this stack while it runs (described in {state_path})")
        print(f"API: http://127.0.0.1:{options.port}  (Ctrl-C stops)", flush=True)

        while True:
            try:
                code = api.wait(timeout=1)
                print(f"refpay local: the API server stopped (status {code})", file=sys.stderr)
                return code or 1
            except subprocess.TimeoutExpired:
                pass
            if database is not None and database.process.poll() is not None:
                print(f"refpay local: DynamoDB Local stopped (status {database.process.returncode}); stopping",
                      file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        code = 130
        return code
    except _Stop as stop:
        code = stop.code
        return code
    finally:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_children(children)
        _remove_state(state_path)
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, signal.default_int_handler)
