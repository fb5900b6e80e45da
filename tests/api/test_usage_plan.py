"""Each bearer key is metered under an API Gateway key of its own: the authorizer names it (usageIdentifierKey),
and making a bearer key puts that key in the stage's usage plan (moto's API Gateway here)."""
from __future__ import annotations

import boto3
import pytest

from chalicelib.domain.access import usage_plan_key


def _authorize(token: str) -> dict:
    from chalicelib.api.auth import api_key

    return api_key({"type": "TOKEN", "authorizationToken": token,
                    "methodArn": "arn:aws:execute-api:eu-west-2:123456789012:abc123/api/GET/referrals"}, None)


def test_the_authorizer_names_each_key_s_usage_key_and_one_for_every_unknown_key(keys):
    from chalicelib.services.auth import authenticate

    referrer, provider = keys["referrer"], keys["provider"]
    for key in (referrer, provider):
        principal = authenticate(f"Bearer {key}")
        assert principal is not None
        answer = _authorize(f"Bearer {key}")
        assert answer["usageIdentifierKey"] == f"refpay-dev-{principal.key_id}" == usage_plan_key(
            "dev", principal.key_id)
        assert answer["context"]["authenticated"] == "true"
    assert _authorize(f"Bearer {referrer}")["usageIdentifierKey"] != _authorize(f"Bearer {provider}")[
        "usageIdentifierKey"]
    for unknown in ("Bearer rp_" + "Z" * 43, "Bearer nonsense", "Basic abc"):
        answer = _authorize(unknown)
        assert answer["usageIdentifierKey"] == "refpay-dev-anonymous" and answer["context"]["authenticated"] == "false"


@pytest.fixture
def plan(aws, monkeypatch):
    plan_id = boto3.client("apigateway").create_usage_plan(name="refpay-prod-per-key")["id"]
    monkeypatch.setenv("REFPAY_USAGE_PLAN_ID", plan_id)
    return plan_id


def _plan_values(plan_id: str) -> dict[str, str]:
    client = boto3.client("apigateway")
    return {item["value"]: item["name"] for item in client.get_usage_plan_keys(usagePlanId=plan_id)["items"]}


def test_a_new_key_joins_the_usage_plan(plan):
    from chalicelib.services.admin import create_api_key, create_organisation

    create_organisation("acme-referrals", "Acme", "referrer")
    _, key_id = create_api_key("acme-referrals", ["referrer"], "case system")
    assert _plan_values(plan) == {usage_plan_key("dev", key_id): key_id}


def test_a_deployed_stage_refuses_to_make_a_key_outside_the_plan(aws, monkeypatch):
    from chalicelib.services.admin import create_api_key, create_organisation
    from chalicelib.settings import SettingsError

    monkeypatch.setenv("REFPAY_STAGE", "prod")
    monkeypatch.delenv("REFPAY_TODAY")
    create_tables_for("prod")
    create_organisation("acme-referrals", "Acme", "referrer")
    with pytest.raises(SettingsError, match="REFPAY_USAGE_PLAN_ID"):
        create_api_key("acme-referrals", ["referrer"], "case system")


def create_tables_for(stage: str) -> None:
    from chalicelib.store.tables import create_tables

    create_tables(stage)


def test_keys_made_before_the_plan_join_it_once(keys, monkeypatch):
    from chalicelib.services.admin import register_usage_keys
    from chalicelib.services.auth import authenticate

    plan_id = boto3.client("apigateway").create_usage_plan(name="refpay-dev-per-key")["id"]
    monkeypatch.setenv("REFPAY_USAGE_PLAN_ID", plan_id)
    demo = {authenticate(f"Bearer {k}").key_id: org_id for org_id, org in keys["organisations"].items()
            for k in org.values()}
    done = register_usage_keys(demo.items())
    assert set(done) == set(demo) and set(_plan_values(plan_id)) == {usage_plan_key("dev", k) for k in demo}
    assert register_usage_keys(demo.items()) == []  # already there


def test_the_command_line_registers_every_unrevoked_key(keys, monkeypatch, capsys):
    import json

    import manage
    from chalicelib.domain.access import hash_key
    from chalicelib.store.models import ApiKey

    plan_id = boto3.client("apigateway").create_usage_plan(name="refpay-dev-per-key")["id"]
    monkeypatch.setenv("REFPAY_USAGE_PLAN_ID", plan_id)
    revoked = ApiKey.get(hash_key(keys["provider"]))
    revoked.update(actions=[ApiKey.revoked.set(True)])
    assert manage.main(["register-usage-keys"]) == 0
    registered = json.loads(capsys.readouterr().out)["registered"]
    every = {item.key_id for item in ApiKey.scan()}
    assert set(registered) == every - {revoked.key_id}
    assert set(_plan_values(plan_id)) == {usage_plan_key("dev", k) for k in registered}
