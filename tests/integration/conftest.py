"""The integration tier: the real local server (`manage.py local`, `chalice local` over HTTP) on Amazon's DynamoDB
Local, which this session starts once.

Why over HTTP and not chalice.test.Client in threads: the test client is not safe to share between threads (the
app's `current_request` is one attribute for all of them, and each call swaps `os.environ`), while `chalice
local` serves each request on its own thread with a thread-local request, as Lambda serves each on its own
container. Concurrent requests here are therefore real concurrent requests, committed by Amazon's engine.

Isolation: the session's DynamoDB Local runs without -sharedDb, so each access key id has tables of its own. Each
test module gets its own server process attached to it with a namespace of its own (its access key id), so no
module sees another's referrals, allocations, claim files or nightly work, while every server keeps the local
stage `dev` and the pinned date. Within a module, every test uses fresh participants (NINOs) and fresh
Idempotency-Keys.
"""
from __future__ import annotations

import itertools
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-11-24"  # the servers' pinned day, as in the in-process tiers: a Tuesday, every window open

_LETTERS = "ABCEGHJKLMNPRSTWXYZ"
_PREFIXES = [a + b for a in _LETTERS for b in _LETTERS if a + b not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}]
_SERIAL = itertools.count(secrets.randbelow(500_000))


def fresh_nino() -> str:
    """A valid National Insurance number not used before in this session (nor, very likely, in an earlier one)."""
    n = next(_SERIAL)
    return f"{secrets.choice(_PREFIXES)}{n % 1_000_000:06d}{'ABCD'[n % 4]}"


def fresh_key(what: str) -> str:
    return f"it-{what}-{secrets.token_hex(8)}"


@pytest.fixture(scope="session")
def dynamodb_endpoint(tmp_path_factory):
    """Amazon's DynamoDB Local, in memory, once for the session, a namespace per access key id. Without Java the
    tier is skipped on a developer's machine (with the reason shown) and fails in CI, whose script installs Java."""
    from devtools import dynamodb_local

    try:
        java = dynamodb_local.find_java()
        dynamodb_local.ensure_installed()
    except dynamodb_local.Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the integration tier needs DynamoDB Local: {exc}")
        pytest.skip(f"the integration tier needs DynamoDB Local: {exc}")
    log = tmp_path_factory.mktemp("dynamodb-local") / "dynamodb-local.log"
    database = dynamodb_local.DynamoDBLocal(log_path=log, shared_db=False).start(java)
    try:
        database.wait_ready(timeout=120)
        yield database.endpoint
    finally:
        database.stop()


@dataclass
class Reply:
    status: int
    body: dict | list | None
    headers: dict

    def __repr__(self):
        return f"<{self.status} {json.dumps(self.body)[:300]}>"


class Server:
    """One `manage.py local` process on the session's DynamoDB Local, with a namespace of its own."""

    def __init__(self, port: int, dynamodb_endpoint: str, keys: dict, workdir: Path, namespace: str, log: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.dynamodb_endpoint = dynamodb_endpoint
        self.keys = keys
        self.orgs = keys["organisations"]
        self.workdir = workdir
        self.namespace = namespace
        self.log = log

    def call(self, method: str, path: str, key: str | None = None, body=None, headers: dict | None = None,
             timeout: float = 60) -> Reply:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), error.headers
        text = raw.decode()
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = {"_raw": text}
        return Reply(status, parsed, {k.lower(): v for k, v in got.items()})

    def get(self, path, key=None, **kw) -> Reply:
        return self.call("GET", path, key, **kw)

    def post(self, path, key=None, body=None, **kw) -> Reply:
        return self.call("POST", path, key, body if body is not None else {}, **kw)

    def table(self, suffix: str):
        """A boto3 Table of this server's namespace, for checks that go past the API (reading every item)."""
        import boto3

        resource = boto3.resource("dynamodb", endpoint_url=self.dynamodb_endpoint, region_name="eu-west-2",
                                  aws_access_key_id=self.namespace, aws_secret_access_key="local")
        return resource.Table(f"refpay-dev-{suffix}")

    def all_items(self, suffix: str) -> list[dict]:
        table, items, kwargs = self.table(suffix), [], {"ConsistentRead": True}
        while True:
            page = table.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def add_approved_lines(self, n: int, programme_id: str, prime: str, payee: str, event_date: str,
                           **amounts: int) -> set[str]:
        """n approved lines waiting for a claim file, written straight to this server's table (a period before
        the pinned day's month, which has ended and so can be cut); their ids."""
        from devtools.claim_lines import approved_lines, put_lines

        lines = list(approved_lines(n, programme_id, prime, payee, date.fromisoformat(event_date), **amounts))
        import boto3

        client = boto3.client("dynamodb", endpoint_url=self.dynamodb_endpoint, region_name="eu-west-2",
                              aws_access_key_id=self.namespace, aws_secret_access_key="local")
        put_lines(client, "refpay-dev-payment-lines", iter(lines))
        return {x.line_id for x in lines}

    def cli_env(self) -> dict:
        """The environment a developer's shell would have: no AWS variable at all. Only the state file is named,
        because this stack's is not the default .local/stack.json (which belongs to the developer's own run)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REFPAY_"))}
        env["REFPAY_LOCAL_STACK_FILE"] = str(self.workdir / "stack.json")
        return env


@pytest.fixture(scope="module")
def server(request, dynamodb_endpoint, tmp_path_factory):
    """This module's own local server: its own tables on the session's DynamoDB Local, demo data."""
    import manage

    namespace = f"it{secrets.token_hex(4)}"
    workdir = tmp_path_factory.mktemp(f"server-{request.module.__name__.rsplit('.', 1)[-1]}")
    # The gateway's throttling (per key, as deployed) is on for a module about it (GATEWAY_THROTTLING = True);
    # the others race one key's requests against each other to test the engine, which a deployed client would
    # spread over its rate limit.
    throttling = "on" if getattr(request.module, "GATEWAY_THROTTLING", False) else "off"
    with manage.local_server_process(workdir, {"REFPAY_TODAY": TODAY, "REFPAY_LOCAL_THROTTLING": throttling},
                                     start_timeout=120,
                                     dynamodb_endpoint=dynamodb_endpoint, namespace=namespace,
                                     demo_history=False) as (port, _, keys, log):
        yield Server(port, dynamodb_endpoint, json.loads(keys.read_text()), workdir, namespace, log)


def cut_and_wait(server: Server, key: str, body: dict, timeout: float = 120) -> tuple[Reply, Reply]:
    """POST /claim-files, then GET the file until it is ready; returns both replies."""
    cut = server.post("/claim-files", key, body)
    assert cut.status in (200, 202), cut
    deadline = time.monotonic() + timeout
    while True:
        got = server.get(f"/claim-files/{cut.body['id']}", key)
        if got.body["status"] == "ready" or time.monotonic() > deadline:
            return cut, got
        time.sleep(0.2)


def race(n: int, action, timeout: float = 120, stagger: float = 0.0) -> list:
    """Run action(i) for i in 0..n-1 on n threads released together by a barrier, thread i `stagger` * i seconds
    after the release (spreading the arrivals over the time one request takes finds the narrow windows); returns
    the results in order (an exception raised by an action is re-raised here)."""
    barrier = threading.Barrier(n, timeout=timeout)
    results: list = [None] * n
    errors: list = []

    def run(i):
        try:
            barrier.wait()
            if stagger:
                time.sleep(stagger * i)
            results[i] = action(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racing request did not finish"
    if errors:
        raise errors[0]
    return results


def referral_body(nino: str | None = None, programme_id: str = "flexible-routeways-norfolk",
                  provider_id: str = "kings-lynn-works", support_level: str = "standard", **eligibility) -> dict:
    return {"programme_id": programme_id, "provider_id": provider_id, "support_level": support_level,
            "consent": {"given": True, "date": TODAY},
            "participant": {"nino": nino or fresh_nino(), "given_name": "Ada", "family_name": "Lovelace",
                            "date_of_birth": "1990-05-17", "postcode": "NR1 3QU",
                            "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False, **eligibility}}}


STEPS = {"accept": ("acknowledgement", {"decision": "accept", "date": TODAY}),
         "start": ("start", {"date": TODAY}),
         "assess": ("assessments", {"date": TODAY}),
         "plan": ("action-plans", {"date": TODAY}),
         "job": ("outcomes", {"type": "job_start", "date": TODAY, "employer_name": "Fen Foods",
                              "hours_per_week": 20, "weekly_earnings_pence": 24000})}


def journey(server: Server, steps: list[str], **referral) -> str:
    """A referral taken through `steps` (names of STEPS) by its provider; returns its id."""
    body = referral_body(**referral)
    made = server.post("/referrals", server.keys["referrer"], body)
    assert made.status == 201, made
    provider = server.orgs[body["provider_id"]]["provider"]
    for name in steps:
        path, payload = STEPS[name]
        done = server.post(f"/referrals/{made.body['id']}/{path}", provider, payload)
        assert done.status in (200, 201), (name, done)
    return made.body["id"]

