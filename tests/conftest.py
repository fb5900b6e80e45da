"""Shared fixtures: an in-memory AWS (moto), tables created from infra/, demo organisations and keys."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postcodes import resident_postcode

TODAY = "2026-11-24"  # a Tuesday; every demo programme's referral window is open
WEEK_BEFORE = "2026-11-17"  # Norfolk Level 3's minimum delivery is a week: started then, a job today earns the 70%


def pytest_collection_modifyitems(config, items):
    """With `-n` (pytest-xdist, `--dist loadgroup`), the integration tier runs on one worker, module after module,
    as it does alone: its session's DynamoDB Local is started once, and its racing tests race each other, never a
    second copy of themselves. The in-process tiers share out the rest."""
    integration = Path(__file__).resolve().parent / "integration"
    for item in items:
        if integration in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.xdist_group("integration"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    # mock_aws only intercepts requests that are not sent to an explicit endpoint.
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE",
                 "REFPAY_KMS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("REFPAY_STAGE", "dev")
    monkeypatch.setenv("REFPAY_TODAY", TODAY)


@pytest.fixture
def aws():
    from moto import mock_aws

    from chalicelib.services import auth
    from chalicelib.store import files
    from chalicelib.store.tables import create_tables
    from devtools.moto_limits import as_dynamodb_today

    as_dynamodb_today()
    with mock_aws():
        create_tables("dev")
        files.create_bucket()
        auth.clear_cache()
        yield
        auth.clear_cache()


@pytest.fixture
def keys(aws):
    from chalicelib.services.admin import create_api_key, create_organisation, seed_demo

    demo = seed_demo()
    orgs = demo["organisations"]
    create_organisation("citizens-advice-tees", "Citizens Advice, Tees (referrer)", "referrer")
    orgs["citizens-advice-tees"] = {"referrer": create_api_key("citizens-advice-tees", ["referrer"], "t")[0]}
    # A key that can both refer and deliver (a provider that takes self-referrals).
    orgs["trobius"]["referrer+provider"] = create_api_key("trobius", ["referrer", "provider"], "t")[0]
    return demo


@dataclass
class Reply:
    status: int
    body: dict
    headers: dict

    @property
    def json(self):
        return self.body


class Api:
    def __init__(self, client):
        self.client = client

    def call(self, method: str, path: str, key: str | None = None, body=None, headers: dict | None = None,
             raw: bytes | str | None = None) -> Reply:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"headers": all_headers}
        if payload is not None:
            kwargs["body"] = payload
        response = getattr(self.client.http, method.lower())(path, **kwargs)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        try:
            parsed = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = {"_raw": text}
        headers_lower = {k.lower(): v for k, v in response.headers.items()}
        return Reply(response.status_code, parsed, headers_lower)

    def get(self, path, key=None, **kw):
        return self.call("GET", path, key, **kw)

    def post(self, path, key=None, body=None, **kw):
        return self.call("POST", path, key, body, **kw)


def cut_claim_file(api: Api, key: str, body: dict, on: str = "2026-12-01") -> tuple[Reply, Reply]:
    """POST /claim-files on `on` (once the period has ended), then the file as GET shows it: in-process the build
    has run by the time the POST answers. The clock is back where it was afterwards."""
    import os

    before = os.environ.get("REFPAY_TODAY")
    os.environ["REFPAY_TODAY"] = on
    try:
        cut = api.post("/claim-files", key, body)
    finally:
        if before is None:
            os.environ.pop("REFPAY_TODAY", None)
        else:
            os.environ["REFPAY_TODAY"] = before
    if cut.status not in (200, 202):
        return cut, cut
    return cut, api.get(f"/claim-files/{cut.body['id']}", key)


def dynamodb_calls(monkeypatch) -> list[str]:
    """The DynamoDB operations the app calls from now on (the test's own list, which it may clear)."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counted(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return calls


def run_nightly(on: str) -> dict:
    """The nightly run for the day `on` (ISO date), in-process: its summary."""
    from datetime import date

    from chalicelib.services import nightly

    return nightly.run(date.fromisoformat(on))


def provider_key(keys: dict, org_id: str) -> str:
    """The demo provider key of `org_id`."""
    return keys["organisations"][org_id]["provider"]


@pytest.fixture
def api(keys):
    from chalice.test import Client

    import app as application

    with Client(application.app, stage_name="dev") as client:
        yield Api(client)


def referral_body(programme_id="flexible-routeways-norfolk", provider_id="kings-lynn-works", nino="AB123456C",
                  **overrides):
    eligibility = {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False}
    body = {
        "programme_id": programme_id,
        "provider_id": provider_id,
        "support_level": "standard",
        "consent": {"given": True, "date": "2026-11-20"},
        "participant": {"nino": nino, "given_name": "Ada", "family_name": "Lovelace",
                        "date_of_birth": "1990-05-17", "postcode": "NR1 3QU", "eligibility": eligibility},
    }
    body.update(overrides)
    body["participant"]["postcode"] = resident_postcode(body.get("provider_id"), body.get("area"),
                                                        body["participant"]["postcode"])
    return {k: v for k, v in body.items() if v is not None}


def chain_referral(api, keys, referrer="broadland-mentors", deliverer="kings-lynn-works", nino="AB123456C",
                   started=True, price=None, monkeypatch=None):
    """Seed 000's chain over HTTP: a VCS group's referrer key refers a person to Trobius, Trobius routes them to a
    Level 3 deliverer (a Level 2 referrer mentors by default), the deliverer accepts (at `price`, or the band's
    default) and, if `started`, starts them; a mentor records one contact (mc1). With `monkeypatch`, all of it
    happens a week before TODAY (so a job today meets Level 3's minimum delivery of a week), and the clock is back
    at TODAY after. Returns the referral id."""
    orgs = keys["organisations"]
    today = WEEK_BEFORE if monkeypatch else TODAY
    if monkeypatch:
        monkeypatch.setenv("REFPAY_TODAY", today)
    body = referral_body(provider_id="trobius", nino=nino, consent={"given": True, "date": today})
    created = api.post("/referrals", orgs[referrer]["referrer"], body)
    assert created.status == 201, created.body
    rid = created.body["id"]
    routed = api.post(f"/referrals/{rid}/route", orgs["trobius"]["provider"], {"date": today,
                                                                            "to_provider_id": deliverer})
    assert routed.status == 200, routed.body
    accept = {"date": today} if price is None else {"date": today, "agreed_price_pence": price,
                                                    "activity": "1:1 job search support"}
    steps = [("accept", accept)] + ([("start", {"date": today})] if started else [])
    for step, payload in steps:
        reply = api.post(f"/referrals/{rid}/{step}", orgs[deliverer]["provider"], payload)
        assert reply.status == 200, reply.body
    mentor = next((p["org_id"] for p in routed.body["parties"] if p["role"] == "mentor" and not p["until"]), None)
    if mentor:
        contact = api.post(f"/referrals/{rid}/mentoring_contact", orgs[mentor]["provider"],
                           {"date": today, "minutes": 45, "mode": "in_person"})
        assert contact.status == 201, contact.body
    if monkeypatch:
        monkeypatch.setenv("REFPAY_TODAY", TODAY)
    return rid
