"""infra/template.json is the single source of truth: the models must use exactly its tables and indexes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chalicelib.store.models import ALL_MODELS
from chalicelib.store.tables import INFRA_TEMPLATE, table_definitions

ROOT = Path(__file__).resolve().parents[2]


def _model_schema(model) -> dict:
    schema = model._get_schema()
    keys = {k["AttributeName"]: k["KeyType"] for k in schema["key_schema"]}
    indexes = {i["index_name"]: {**{k["AttributeName"]: k["KeyType"] for k in i["key_schema"]},
                                 "projection": i["projection"]["ProjectionType"]}
               for i in schema.get("global_secondary_indexes", [])}
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    return {"keys": keys, "indexes": indexes, "types": types}


def _infra_schema(request: dict) -> dict:
    keys = {k["AttributeName"]: k["KeyType"] for k in request["KeySchema"]}
    indexes = {i["IndexName"]: {**{k["AttributeName"]: k["KeyType"] for k in i["KeySchema"]},
                                "projection": i["Projection"]["ProjectionType"]}
               for i in request.get("GlobalSecondaryIndexes", [])}
    types = {a["AttributeName"]: a["AttributeType"] for a in request["AttributeDefinitions"]}
    return {"keys": keys, "indexes": indexes, "types": types}


def drift(models, template: Path) -> list[str]:
    infra = {r["TableName"]: _infra_schema(r) for r in table_definitions("dev", template)}
    problems = []
    for model in models:
        name = model.Meta.table_name
        if name not in infra:
            problems.append(f"{model.__name__}: table {name} is not in {template.name}")
            continue
        mine, theirs = _model_schema(model), infra[name]
        if mine["keys"] != theirs["keys"]:
            problems.append(f"{model.__name__}: keys {mine['keys']} != infra {theirs['keys']}")
        for index, keys in mine["indexes"].items():
            if theirs["indexes"].get(index) != keys:
                problems.append(f"{model.__name__}: index {index} {keys} != infra {theirs['indexes'].get(index)}")
        for attr, kind in mine["types"].items():
            if theirs["types"].get(attr) != kind:
                problems.append(f"{model.__name__}: attribute {attr} type {kind} != infra {theirs['types'].get(attr)}")
    return problems


def test_every_model_table_and_index_exists_in_infra_with_the_same_keys():
    assert drift(ALL_MODELS, INFRA_TEMPLATE) == []


def test_drift_is_detected_when_a_model_gains_an_index(tmp_path):
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

    from chalicelib.store.models import ReferralItem

    class ByStatus(GlobalSecondaryIndex):
        class Meta:
            index_name = "by-status"
            projection = AllProjection()

        status = UnicodeAttribute(hash_key=True)

    class ReferralWithNewIndex(ReferralItem):
        class Meta(ReferralItem.Meta):
            pass

        by_status = ByStatus()

    problems = drift([ReferralWithNewIndex], INFRA_TEMPLATE)
    assert any("by-status" in p for p in problems), problems


def test_drift_is_detected_when_infra_changes_a_key(tmp_path):
    template = json.loads(INFRA_TEMPLATE.read_text())
    events = template["Resources"]["ReferralEventsTable"]["Properties"]
    events["KeySchema"][1]["AttributeName"] = "sequence"
    events["AttributeDefinitions"][1]["AttributeName"] = "sequence"
    changed = tmp_path / "dynamodb.json"
    changed.write_text(json.dumps(template))
    problems = drift(ALL_MODELS, changed)
    assert any("ReferralEventItem" in p and "keys" in p for p in problems), problems


def test_drift_is_detected_when_infra_changes_a_projection(tmp_path):
    template = json.loads(INFRA_TEMPLATE.read_text())
    referrals = template["Resources"]["ReferralsTable"]["Properties"]
    referrals["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "ALL"}
    changed = tmp_path / "dynamodb.json"
    changed.write_text(json.dumps(template))
    problems = drift(ALL_MODELS, changed)
    assert any("by-referrer" in p and "KEYS_ONLY" in p for p in problems), problems


def test_tables_are_on_demand_encrypted_and_recoverable():
    template = json.loads(INFRA_TEMPLATE.read_text())
    tables = {n: r for n, r in template["Resources"].items() if r.get("Type") == "AWS::DynamoDB::Table"}
    assert len(tables) == 15
    for name, resource in tables.items():
        props = resource["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["SSESpecification"] == {"SSEEnabled": True}, name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert resource["DeletionPolicy"] == "Retain", name


def test_no_table_scan_in_product_code():
    offenders = []
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.scan\(|['\"]Scan['\"]", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


def test_domain_has_no_aws_or_http_imports():
    offenders = []
    for path in sorted((ROOT / "chalicelib" / "domain").rglob("*.py")):
        text = path.read_text()
        for banned in ("boto3", "botocore", "pynamodb", "chalice"):
            if re.search(rf"^\s*(from|import)\s+{banned}\b", text, re.M):
                offenders.append(f"{path.name}: {banned}")
    assert offenders == []


@pytest.mark.parametrize("path", ["app.py"])
def test_app_is_wiring_only(path):
    text = (ROOT / path).read_text()
    assert "@app.route" not in text and "def " not in text
