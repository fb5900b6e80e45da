"""Create the tables exactly as infra/template.json defines them (tests and the local run use this)."""
from __future__ import annotations

import json
from pathlib import Path

import boto3

from ..settings import LOCAL_STAGES
from .sealing import create_local_key

INFRA_TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.json"


def table_definitions(stage: str, template_path: Path = INFRA_TEMPLATE) -> list[dict]:
    """CreateTable requests for every AWS::DynamoDB::Table in the template, for one stage."""
    template = json.loads(template_path.read_text())
    requests = []
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        request = {
            "TableName": props["TableName"]["Fn::Sub"].replace("${Stage}", stage),
            "BillingMode": props["BillingMode"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        requests.append(request)
    return requests


def create_tables(stage: str, client=None) -> list[str]:
    """The stage's tables; a local stage (tests, the local run) also gets its personal-data key in moto's KMS
    (a deployed stage's key is in infra/template.json)."""
    if stage in LOCAL_STAGES:
        create_local_key(stage)
    client = client or boto3.client("dynamodb")
    existing = set(client.list_tables()["TableNames"])
    created = []
    for request in table_definitions(stage):
        if request["TableName"] in existing:
            continue
        client.create_table(**request)
        created.append(request["TableName"])
    return created
