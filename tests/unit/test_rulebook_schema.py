"""The rulebook format published as a JSON Schema (GET /rulebook-schema.json, docs/rulebook.schema.json): generated
from the loader's schemas, kept in step with them, and true of every real rulebook."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from chalicelib.adapters.rulebooks import all_rulebooks, json_schema

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "rulebook.schema.json"


def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_published_copy_is_the_generated_schema():
    """Regenerate with: scripts/dev python -c "import json; from chalicelib.adapters.rulebooks import json_schema;
    print(json.dumps(json_schema(), indent=2, sort_keys=True))" > docs/rulebook.schema.json"""
    assert json.loads(PUBLISHED.read_text()) == json_schema()


@pytest.mark.parametrize("programme_id", sorted(all_rulebooks()))
def test_every_real_rulebook_is_valid(programme_id):
    assert list(validator().iter_errors(all_rulebooks()[programme_id].document)) == []


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d.update(colour="blue"), "colour"),
    (lambda d: d["delivery_organisations"][0].update(role="charity"), "role"),
    (lambda d: d["tariff"]["fees"][0]["payments"][0].update(milestone="bonus"), "milestone"),
    (lambda d: d["deadlines"]["start"].update(unit="fortnights"), "unit"),
    (lambda d: d.pop("tariff"), "tariff"),
])
def test_a_broken_rulebook_is_invalid_naming_where(mutate, where):
    document = copy.deepcopy(all_rulebooks()["flexible-routeways-norfolk"].document)
    mutate(document)
    errors = list(validator().iter_errors(document))
    assert errors and any(where in (e.message + "/".join(map(str, e.absolute_path))) for e in errors)


def test_the_api_serves_the_same_schema(api):
    reply = api.get("/rulebook-schema.json")
    assert reply.status == 200 and reply.body == json_schema()
