"""The API's usage plan (API Gateway): every bearer key is metered under an API Gateway key of its own in it.

API Gateway applies the plan's rate, burst and daily quota to the key a request's authorizer names
(`usageIdentifierKey`, chalicelib/api/auth.py). That key must exist and be in the plan, or the gateway refuses the
request (403): so creating a bearer key registers its usage key here. Local stages have no plan (the local server
meters every usage key it is given, devtools/chalice_local.py).
"""
from __future__ import annotations

from typing import Any


def _client() -> Any:
    import boto3

    return boto3.client("apigateway")


def registered(plan_id: str) -> set[str]:
    """The values of the API Gateway keys in the plan."""
    client = _client()
    values: set[str] = set()
    for page in client.get_paginator("get_usage_plan_keys").paginate(usagePlanId=plan_id):
        values |= {item["value"] for item in page.get("items", [])}
    return values


def register(plan_id: str, usage_key: str, name: str, description: str) -> None:
    """An API Gateway key with the value `usage_key`, enabled, in the plan."""
    client = _client()
    created = client.create_api_key(name=name, description=description, enabled=True, value=usage_key)
    client.create_usage_plan_key(usagePlanId=plan_id, keyId=created["id"], keyType="API_KEY")
