"""What a request costs on Amazon's DynamoDB Local: its round trips, and the read and write units the engine reports
(ReturnConsumedCapacity), with every item a transaction writes and its size. Shared by bench/write_units.py
(which reports a run) and tests/integration/test_write_units.py (which fails when a step costs more than its
bound).

`journey_costs` runs a referral's journey in-process (chalice.test.Client) against the DynamoDB Local that
AWS_ENDPOINT_URL_DYNAMODB names; KMS (the personal fields' key) is moto's, in-process, as no real KMS is called
locally. Every POST sends an Idempotency-Key; the authorizer's reads of an API key are left out (a warm
container's cache holds the key).
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

TODAY = "2026-11-24"
NORFOLK = "flexible-routeways-norfolk"
_WITH_CAPACITY = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                  "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
# What must not reach the app in-process: a profile, a session, endpoints or a key that are not the local ones.
NOT_LOCAL = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS",
             "REFPAY_KMS_KEY_ID")


def environment(endpoint: str, namespace: str) -> dict[str, str]:
    """The variables that point the app in-process at the DynamoDB Local at `endpoint`, in the namespace of its
    own that the access key id `namespace` has there, on the local stage and the pinned date (NOT_LOCAL unset)."""
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ACCESS_KEY_ID": namespace, "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "eu-west-2", "REFPAY_STAGE": "dev", "REFPAY_TODAY": TODAY}


def attribute_size(value: dict) -> int:
    """The bytes DynamoDB counts for one attribute value (its documented item-size rules, closely)."""
    (kind, raw), = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else len(base64.b64decode(raw))
    if kind == "N":
        digits = len(str(Decimal(raw)).lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in raw.items())
    return sum(attribute_size({kind[0]: v}) for v in raw)  # SS, NS, BS


def item_size(item: dict) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


@dataclass
class Written:
    """One item a transaction wrote: its operation, table and (for a put) size in bytes and attributes' names."""

    operation: str
    table: str
    size: int | None
    attributes: frozenset[str] = frozenset()

    def __str__(self) -> str:
        table = self.table.removeprefix("refpay-dev-")
        return f"{self.operation} {table}" + (f" {self.size} B" if self.size is not None else "")


@dataclass
class Meter:
    """Counts the app's DynamoDB calls and adds up the capacity the engine reports for them."""

    calls: list[str] = field(default_factory=list)
    read_units: float = 0.0
    write_units: float = 0.0
    written: list[Written] = field(default_factory=list)
    by_table: dict[str, float] = field(default_factory=dict)  # write units per table and index ("table/index")
    paused: bool = False  # while the authorizer reads a key its cache has let go (not the request's own work)

    def reset(self) -> None:
        self.calls, self.read_units, self.write_units, self.written, self.by_table = [], 0.0, 0.0, [], {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[Meter]:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        meter = self

        def metered(client, operation, params):
            if client.meta.service_model.service_name != "dynamodb":
                return original(client, operation, params)
            if operation in _WITH_CAPACITY:
                params = {**params, "ReturnConsumedCapacity": "INDEXES"}
            response = original(client, operation, params)
            if not meter.paused:
                meter._count(operation, params, response)
            return response

        botocore.client.BaseClient._make_api_call = metered
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    def _count(self, operation: str, params: dict, response: dict) -> None:
        self.calls.append(operation)
        consumed = response.get("ConsumedCapacity") or []
        for item in consumed if isinstance(consumed, list) else [consumed]:
            reads, writes = item.get("ReadCapacityUnits"), item.get("WriteCapacityUnits")
            if reads is None and writes is None:  # only a total: reads or writes by the operation
                total = float(item.get("CapacityUnits") or 0)
                reads, writes = (total, None) if operation in _READS else (None, total)
            self.read_units += float(reads or 0)
            self.write_units += float(writes or 0)
            if operation in _READS:
                continue
            table = str(item.get("TableName", "")).removeprefix("refpay-dev-")
            parts = {table: (item.get("Table") or {}).get("CapacityUnits"), **{
                f"{table}/{name}": units.get("CapacityUnits")
                for name, units in (item.get("GlobalSecondaryIndexes") or {}).items()}}
            for name, units in parts.items():
                if units:
                    self.by_table[name] = self.by_table.get(name, 0.0) + float(units)
        for entry in params.get("TransactItems", []) if operation == "TransactWriteItems" else ():
            (kind, body), = entry.items()
            item = body.get("Item")
            self.written.append(Written(kind, body["TableName"], item_size(item) if item else None,
                                        frozenset(item or ())))


def referral_body(nino: str, provider_id: str = "kings-lynn-works", postcode: str = "PE30 1EX") -> dict:
    return {"programme_id": NORFOLK, "provider_id": provider_id, "support_level": "standard",
            "consent": {"given": True, "date": TODAY},
            "participant": {"nino": nino, "given_name": "Ada", "family_name": "Lovelace",
                            "date_of_birth": "1990-05-17", "postcode": postcode,
                            "eligibility": {"seeking_work": True, "right_to_work": True}}}


def journey(reviews: int) -> list[tuple[str, str, dict]]:
    """The steps of a participant's year after the referral: (label, path under the referral, body)."""
    steps: list[tuple[str, str, dict]] = [
        ("accept", "acknowledgement", {"decision": "accept", "date": TODAY}),
        ("start", "start", {"date": TODAY}), ("assessment", "assessments", {"date": TODAY}),
        ("action plan", "action-plans", {"date": TODAY, "document_ref": "AP-001"})]
    steps += [("review", "reviews", {"date": TODAY})] * reviews
    steps.append(("job start", "outcomes", {"type": "job_start", "date": TODAY, "employer_name": "Fen Foods",
                                            "hours_per_week": 20, "weekly_earnings_pence": 24000}))
    return steps


@dataclass
class Cost:
    request: str
    status: int
    round_trips: int
    calls: str
    write_units: float
    read_units: float
    written: list[Written]
    by_table: dict[str, float]


class Requests:
    """The app in-process with the meter installed: `call` makes a request, `measured` makes one and records what
    it cost (a POST with a body sends an Idempotency-Key: `idempotency`, or a new one)."""

    def __init__(self, client, keys: dict, meter: Meter) -> None:
        self.client, self.keys, self.meter = client, keys, meter
        self.costs: list[Cost] = []

    def call(self, method: str, path: str, key: str, body: dict | None,
             idempotency: str | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if idempotency:
            headers["Idempotency-Key"] = idempotency
        kwargs = {"headers": headers} | ({"body": json.dumps(body)} if body is not None else {})
        reply = getattr(self.client.http, method.lower())(path, **kwargs)
        return reply.status_code, json.loads(reply.body or b"{}")

    def made(self, method: str, path: str, key: str, body: dict | None) -> dict:
        """A request that is not measured, which must succeed."""
        status, parsed = self.call(method, path, key, body, str(uuid.uuid4()) if body is not None else None)
        if status >= 300:
            raise AssertionError(f"{method} {path}: {status} {parsed}")
        return parsed

    def measured(self, label: str, method: str, path: str, key: str, body: dict | None,
                 idempotency: str | None = None) -> dict:
        meter = self.meter
        meter.reset()
        status, parsed = self.call(method, path, key, body, idempotency or (str(uuid.uuid4()) if body else None))
        if status >= 300:
            raise AssertionError(f"{label}: {status} {parsed}")
        self.costs.append(Cost(label, status, len(meter.calls), " ".join(meter.calls), round(meter.write_units, 1),
                               round(meter.read_units, 1), list(meter.written), dict(meter.by_table)))
        return parsed

    def measured_and_replayed(self, label: str, path: str, key: str, body: dict) -> dict:
        """A POST measured (as `label`), then sent again with the same Idempotency-Key (as `label, replayed`)."""
        idempotency = str(uuid.uuid4())
        parsed = self.measured(label, "POST", path, key, body, idempotency)
        self.measured(f"{label}, replayed", "POST", path, key, body, idempotency)
        return parsed


@contextlib.contextmanager
def in_process() -> Iterator[Requests]:
    """The app in-process (chalice.test.Client) with the meter installed, on the tables created (where missing) on
    the DynamoDB that AWS_ENDPOINT_URL_DYNAMODB names, with the demo's organisations and keys; KMS is moto's. The
    authorizer's reads of a key are not counted (a warm container's cache holds it)."""
    from chalice.test import Client
    from moto import mock_aws

    import app as application
    from chalicelib.services import auth
    from chalicelib.services.admin import seed_demo
    from chalicelib.store.tables import create_tables

    meter = Meter()
    with mock_aws(), meter.installed(), contextlib.ExitStack() as stack:
        _fresh_connections()
        stack.callback(_fresh_connections)
        create_tables("dev")  # and the personal-data key, in moto's KMS
        keys = seed_demo()
        auth.clear_cache()
        load_key = auth._load

        def authorizer_read(digest):
            meter.paused = True
            try:
                return load_key(digest)
            finally:
                meter.paused = False

        auth._load = authorizer_read
        stack.callback(setattr, auth, "_load", load_key)
        client = stack.enter_context(Client(application.app, stage_name="dev"))
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))  # the app's logs and metrics
        stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        requests = Requests(client, keys, meter)
        for key in (keys["referrer"], keys["provider"]):  # the authorizer's cache, warm
            requests.call("GET", "/referrals", key, None)
        yield requests


def journey_costs(reviews: int, ninos: tuple[str, str, str]) -> list[Cost]:
    """The cost of each request of a participant's journey (a referral, then `journey(reviews)`), of its last step
    replayed (same Idempotency-Key), then of a second person's referral, that POST replayed, a GET of that
    referral, and of a third person's referral to the prime, routed on once a nightly run has flagged it (see
    `in_process`)."""
    with in_process() as requests:
        _run(requests, reviews, ninos)
        return requests.costs


def _fresh_connections() -> None:
    """Forget the DynamoDB connections made so far (an earlier one may point at another endpoint)."""
    from chalicelib.store import connection

    connection.reset()


def _run(requests: Requests, reviews: int, ninos: tuple[str, str, str]) -> None:
    keys, measured = requests.keys, requests.measured
    rid = measured("POST /referrals", "POST", "/referrals", keys["referrer"], referral_body(ninos[0]))["id"]
    for label, path, body in journey(reviews)[:-1]:
        measured(label, "POST", f"/referrals/{rid}/{path}", keys["provider"], body)
    label, path, body = journey(reviews)[-1]
    requests.measured_and_replayed(label, f"/referrals/{rid}/{path}", keys["provider"], body)
    replay_key = str(uuid.uuid4())
    other = measured("POST /referrals (second person)", "POST", "/referrals", keys["referrer"],
                     referral_body(ninos[1]), replay_key)["id"]
    measured("POST /referrals, replayed", "POST", "/referrals", keys["referrer"], referral_body(ninos[1]),
             replay_key)
    measured("GET /referrals/{id}", "GET", f"/referrals/{other}", keys["referrer"], None)
    routed = measured("POST /referrals (to the prime)", "POST", "/referrals", keys["referrer"],
                      referral_body(ninos[2], provider_id=PRIME))["id"]
    _unmetered_night(requests.meter, ROUTE_NIGHT)  # the prime has not acknowledged it: its flag is raised, recorded
    measured("route, its open flag moving", "POST", f"/referrals/{routed}/route", keys["prime"],
             {"date": TODAY, "to_provider_id": DELIVERER})


ROUTE_NIGHT = "2026-11-27"  # the day after the acknowledgement deadline of a referral made on TODAY


def _unmetered_night(meter: Meter, on: str) -> None:
    """The nightly run for `on`, not counted (it is not a request)."""
    from datetime import date

    from chalicelib.services import nightly

    meter.paused = True
    try:
        nightly.run(date.fromisoformat(on))
    finally:
        meter.paused = False


MENTORS, PRIME, DELIVERER = "broadland-mentors", "trobius", "kings-lynn-works"


def claim_costs(ninos: tuple[str, ...]) -> list[Cost]:
    """The cost of each claim write, and of each sent again with its Idempotency-Key: on the referrals of `ninos`
    (at least four), a Level 2 group's mentoring claim on each (the first's measured: `POST /claims`), the prime's
    finance approving the first (`approve`), rejecting the second (`reject`), approving the others in one bulk
    decision (`decide N lines`) and clawing the first back (`claw back`). See `in_process`."""
    if len(ninos) < 4:
        raise ValueError("four people at least: a claim approved, one rejected, two or more decided together")
    with in_process() as requests:
        first = _mentored_referral(requests, ninos[0])
        claimed = requests.measured_and_replayed("POST /claims", "/claims", requests.keys["organisations"][MENTORS][
            "provider"], _mentoring_claim(first))
        lines = [claimed["line_id"]] + [_claim(requests, _mentored_referral(requests, n)) for n in ninos[1:]]
        finance = requests.keys["finance"]  # the prime's: it pays its chain's lines
        requests.measured_and_replayed("approve", f"/claims/{lines[0]}/approve", finance, {})
        requests.measured_and_replayed("reject", f"/claims/{lines[1]}/reject", finance, {"reason": "no evidence"})
        requests.measured_and_replayed(f"decide {len(lines) - 2} lines", "/claims/decisions", finance,
                                       {"line_ids": lines[2:], "decision": "approve"})
        requests.measured_and_replayed("claw back", f"/claims/{lines[0]}/clawback", finance,
                                       {"reason": "recorded in error"})
        return requests.costs


def _mentored_referral(requests: Requests, nino: str) -> str:
    """A Level 2 group refers a person to the prime, which routes them to a Level 3 deliverer with the group
    mentoring; the deliverer accepts and starts them and the group records a contact (mc1). Not measured."""
    orgs = requests.keys["organisations"]
    rid = requests.made("POST", "/referrals", orgs[MENTORS]["referrer"],
                        referral_body(nino, provider_id=PRIME, postcode="NR1 3QU"))["id"]
    requests.made("POST", f"/referrals/{rid}/route", orgs[PRIME]["provider"],
                  {"date": TODAY, "to_provider_id": DELIVERER})
    for step in ("accept", "start"):
        requests.made("POST", f"/referrals/{rid}/{step}", orgs[DELIVERER]["provider"], {"date": TODAY})
    requests.made("POST", f"/referrals/{rid}/mentoring_contact", orgs[MENTORS]["provider"],
                  {"date": TODAY, "minutes": 45, "mode": "in_person"})
    return rid


def _mentoring_claim(referral_id: str) -> dict:
    return {"referral_id": referral_id, "fee_id": "level-2-support", "amount_pence": 15000, "event_date": TODAY,
            "evidence_ref": "case-notes/118", "contact_ids": ["mc1"]}


def _claim(requests: Requests, referral_id: str) -> str:
    """The group's mentoring claim on the referral, not measured: its line's id."""
    return str(requests.made("POST", "/claims", requests.keys["organisations"][MENTORS]["provider"],
                             _mentoring_claim(referral_id))["line_id"])
