"""refpay's command line: organisations, API keys, tables and the local run.

    python manage.py local                 # the local stack: API on http://127.0.0.1:8000, DynamoDB Local, demo data
    python manage.py create-org ID NAME KIND [--prime ORG] [--level N]
    python manage.py create-key ORG --roles referrer,provider [--label TEXT]
    python manage.py register-usage-keys   # every key into the usage plan (REFPAY_USAGE_PLAN_ID), once
    python manage.py create-tables [--stage dev]
    python manage.py export-claim-file CLAIM_FILE_ID --out claims.csv
    python manage.py nightly --date 2026-11-24
    python manage.py record-open-flags     # once, after upgrading: open flags recorded on their referrals

Which AWS the commands talk to: while `manage.py local` (`scripts/dev run`) is up, every other command uses that
local stack, unless the environment names an AWS (any of AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_PROFILE); the stack is found through .local/stack.json, which the
local run writes and removes (devtools/local_stack.py, use_running_stack). Otherwise the usual AWS_PROFILE /
AWS_REGION apply and REFPAY_STAGE picks the tables.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_create_org(args) -> int:
    from chalicelib.domain.errors import DomainError
    from chalicelib.services.admin import create_organisation

    try:
        org = create_organisation(args.org_id, args.name, args.kind, args.prime, args.level)
    except DomainError as exc:
        return _fail(f"{exc.detail} {[e.as_dict() for e in exc.errors] or ''}".strip())
    print(json.dumps({"org_id": org.org_id, "kind": org.kind, "prime_org_id": org.prime_org_id}))
    return 0


def cmd_create_key(args) -> int:
    from chalicelib.domain.errors import DomainError
    from chalicelib.services.admin import create_api_key
    from chalicelib.settings import SettingsError

    try:
        secret, key_id = create_api_key(args.org_id, [r.strip() for r in args.roles.split(",") if r.strip()],
                                        args.label)
    except DomainError as exc:
        return _fail(f"{exc.detail} {[e.as_dict() for e in exc.errors] or ''}".strip())
    except SettingsError as exc:
        return _fail(str(exc))
    print(json.dumps({"org_id": args.org_id, "key_id": key_id, "api_key": secret}))
    print("Store the key now: only its hash is kept.", file=sys.stderr)
    return 0


def cmd_register_usage_keys(args) -> int:
    """Every unrevoked key into the stage's usage plan (keys made before it existed). It reads the whole key table
    (a Scan: an administrator's one-off, never a request path)."""
    from chalicelib.services.admin import register_usage_keys
    from chalicelib.settings import SettingsError
    from chalicelib.store.models import ApiKey

    try:
        keys = ((item.key_id, item.org_id) for item in ApiKey.scan() if not item.revoked)
        print(json.dumps({"registered": register_usage_keys(keys)}))
    except SettingsError as exc:
        return _fail(str(exc))
    return 0


def cmd_create_tables(args) -> int:
    from chalicelib.store.tables import create_tables

    print(json.dumps({"created": create_tables(args.stage)}))
    return 0


def cmd_export_claim_file(args) -> int:
    """Write a claim file to a local CSV, streaming, with a progress bar on the terminal."""
    from tqdm import tqdm

    from chalicelib.domain.errors import DomainError
    from chalicelib.services.claim_files import export, get

    record = get(args.claim_file_id)
    if record is None:
        return _fail(f"no claim file {args.claim_file_id!r}")
    with open(args.out, "w", encoding="utf-8", newline="") as out, tqdm(
            total=int(record.line_count or 0) or None, unit="line", disable=args.quiet, file=sys.stderr) as bar:
        try:
            totals = export(args.claim_file_id, out, on_line=bar.update)
        except DomainError as exc:
            return _fail(exc.detail)
    recorded = (record.totals or {}).get("total_pence")
    print(json.dumps({"claim_file_id": args.claim_file_id, "out": args.out, "lines": totals.line_count,
                      "total_pence": totals.total_pence, "matches_recorded_total": recorded == totals.total_pence}))
    return 0 if recorded in (None, totals.total_pence) else 1


def cmd_nightly(args) -> int:
    """Run (or replay) the nightly compliance jobs for a date, exactly as the schedule does."""
    from datetime import date

    from chalicelib.services import nightly

    on = date.fromisoformat(args.date) if args.date else None
    if on is None:
        from chalicelib.schedules.nightly import run_date

        on = run_date(None)
    shards = args.shard or None
    print(json.dumps(nightly.run(on, shards), indent=2))
    return 0


def cmd_record_open_flags(args) -> int:
    """Record each open flag on its referral (flags raised before referrals recorded them), so that the step that
    answers the deadline resolves it."""
    from chalicelib.services import compliance

    print(json.dumps(compliance.record_open_flags_on_referrals(), indent=2))
    return 0


def cmd_local(args) -> int:
    """The local stack: Amazon's DynamoDB Local (moto's where Java is missing), S3 on moto, tables from infra/,
    demo data, `chalice local`. See devtools/local_stack.py."""
    from devtools import local_stack

    return local_stack.run(local_stack.Options(
        port=args.port, db_port=args.db_port, s3_port=args.s3_port, keys_file=Path(args.keys_file),
        engine=args.engine, dynamodb_endpoint=args.dynamodb_endpoint, namespace=args.dynamodb_namespace,
        stage=args.stage, demo_history=not args.no_demo_history,
        state_file=Path(args.state_file) if args.state_file else None))


def _free_port() -> int:
    from devtools.dynamodb_local import free_port

    return free_port()


class LocalServer(tuple):
    """What `local_server_process` yields: (port, db_port, keys file, log file), and `.process`, the launcher (the
    leader of the run's process group) for a caller that measures the run's processes or times its stop."""

    process: subprocess.Popen

    def __new__(cls, values: tuple, process: subprocess.Popen) -> LocalServer:
        server = super().__new__(cls, values)
        server.process = process
        return server


@contextlib.contextmanager
def local_server_process(workdir: Path, extra_env: dict | None = None, launcher: list[str] | None = None,
                         start_timeout: float = 90, *, engine: str | None = None, dynamodb_endpoint: str | None = None,
                         namespace: str | None = None, stage: str | None = None, demo_history: bool = True):
    """`manage.py local` in a child process on free ports of 127.0.0.1, for tests and benchmarks: yields
    (port, db_port, keys file, log file) once /health answers (a `LocalServer`: its `.process` is the launcher);
    stops the whole process group on exit.

    Its state file is `workdir/stack.json` (never the developer's .local/). `engine` is passed as --engine (by
    default the command's own choice: DynamoDB Local where Java is found); with `dynamodb_endpoint` it uses that
    DynamoDB (one started once for a whole test session) instead of starting one, with `namespace` as its access
    key id (tables of its own on a DynamoDB Local without -sharedDb); `stage` names its tables; `demo_history`
    False leaves out last month's demo referrals."""
    import time
    import urllib.request

    port, s3_port = _free_port(), _free_port()
    db_port = int(dynamodb_endpoint.rsplit(":", 1)[1].strip("/")) if dynamodb_endpoint else _free_port()
    keys_file, log_path = workdir / "demo-keys.json", workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REFPAY_"))}
    env.update(extra_env or {})
    command = [sys.executable, *(launcher or ["manage.py"]), "local", "--port", str(port), "--db-port", str(db_port),
               "--s3-port", str(s3_port), "--keys-file", str(keys_file), "--state-file", str(workdir / "stack.json")]
    if engine:
        command += ["--engine", engine]
    if dynamodb_endpoint:
        command += ["--dynamodb-endpoint", dynamodb_endpoint]
    if namespace:
        command += ["--dynamodb-namespace", namespace]
    if stage:
        command += ["--stage", stage]
    if not demo_history:
        command.append("--no-demo-history")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("local server did not start:\n" + log_path.read_text())
                time.sleep(0.3)
            yield LocalServer((port, db_port, keys_file, log_path), proc)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            # Whatever is left of the group (nothing, normally) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="manage.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create-org", help="create an organisation")
    p.add_argument("org_id")
    p.add_argument("name")
    p.add_argument("kind", choices=["commissioner", "prime", "local_authority", "subcontractor", "referrer"])
    p.add_argument("--prime", help="a subcontractor's prime organisation")
    p.add_argument("--level", type=int, choices=[1, 2, 3], help="a subcontractor's level")
    p.set_defaults(func=cmd_create_org)
    p = sub.add_parser("create-key", help="create an API key for an organisation (printed once)")
    p.add_argument("org_id")
    p.add_argument("--roles", required=True, help="comma-separated: referrer,provider,finance,admin")
    p.add_argument("--label", default="api key")
    p.set_defaults(func=cmd_create_key)
    p = sub.add_parser("register-usage-keys", help="put every unrevoked API key in the stage's usage plan "
                       "(REFPAY_USAGE_PLAN_ID): once, for keys made before the plan")
    p.set_defaults(func=cmd_register_usage_keys)
    p = sub.add_parser("create-tables", help="create the tables defined in infra/template.json")
    p.add_argument("--stage", default=os.environ.get("REFPAY_STAGE", "dev"))
    p.set_defaults(func=cmd_create_tables)
    p = sub.add_parser("export-claim-file", help="write a claim file to a local CSV (finance)")
    p.add_argument("claim_file_id")
    p.add_argument("--out", required=True, help="the CSV file to write")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export_claim_file)
    p = sub.add_parser("nightly", help="run the nightly compliance jobs for a date (replayable)")
    p.add_argument("--date", help="YYYY-MM-DD (default: today in the UK)")
    p.add_argument("--shard", action="append", help="only this shard (repeatable), e.g. s07")
    p.set_defaults(func=cmd_nightly)
    p = sub.add_parser("record-open-flags", help="record each open flag on its referral: once, after upgrading from "
                       "a version whose referrals did not record the flags raised on them")
    p.set_defaults(func=cmd_record_open_flags)
    p = sub.add_parser("local", help="run the API locally on DynamoDB Local (moto without Java) with demo data")
    p.add_argument("--port", type=int, default=8000, help="the API")
    p.add_argument("--db-port", type=int, default=8001, help="DynamoDB (moto's fallback serves S3 there too)")
    p.add_argument("--s3-port", type=int, default=8002, help="S3 (moto), beside DynamoDB Local")
    p.add_argument("--keys-file", default=str(ROOT / ".local" / "demo-keys.json"))
    p.add_argument("--engine", choices=["auto", "dynamodb-local", "moto"],
                   default=os.environ.get("REFPAY_LOCAL_ENGINE") or "auto",
                   help="auto (default): DynamoDB Local where Java 17+ is found, else moto with a warning")
    p.add_argument("--dynamodb-endpoint", help="use this running DynamoDB instead of starting one")
    p.add_argument("--dynamodb-namespace", default="local",
                   help="the access key id for DynamoDB: on a DynamoDB Local started without -sharedDb, each one "
                        "has tables of its own (tests give each server its own)")
    p.add_argument("--stage", default="dev", help="the tables' stage (refpay-STAGE-...)")
    p.add_argument("--no-demo-history", action="store_true",
                   help="leave out last month's demo referrals (started, their lines waiting for its claim file)")
    p.add_argument("--state-file", help="where the stack is described while it runs (default .local/stack.json, "
                                        "or $REFPAY_LOCAL_STACK_FILE)")
    p.set_defaults(func=cmd_local)
    args = parser.parse_args(argv)
    if args.command != "local":
        _use_local_stack_if_up()
    return args.func(args)


def _use_local_stack_if_up() -> None:
    """With no AWS endpoint, key or profile in the environment, a running local stack is the target (the rule is
    devtools.local_stack.use_running_stack). Says so on stderr."""
    from devtools.local_stack import use_running_stack

    state = use_running_stack()
    if state is not None:
        print(f"refpay: using the local stack (DynamoDB {state['dynamodb']}, stage {os.environ['REFPAY_STAGE']}); "
              "set AWS_PROFILE to reach AWS instead", file=sys.stderr)


if __name__ == "__main__":
    status = main()
    if len(sys.argv) > 1 and sys.argv[1] == "local":
        # The local run has stopped its children; skip tearing down a large in-memory moto fallback.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
