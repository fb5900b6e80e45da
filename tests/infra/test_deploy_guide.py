"""The README's "Deploying to AWS", followed literally: every parameter and secret the packaged stack needs is
named there and passed by scripts/deploy, with the AWS CLI replaced by a recorder (there is no AWS here)."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_AWS = r"""#!/usr/bin/env python3
import json, os, shutil, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AWS_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:2] == ["cloudformation", "package"]:
    shutil.copy(args[args.index("--template-file") + 1], args[args.index("--output-template-file") + 1])
elif args[:2] == ["cloudformation", "describe-stacks"]:
    print("https://abc123.execute-api.eu-west-2.amazonaws.com/api/")
"""


def guide() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index("## Deploying to AWS\n"):readme.index("\n## ", readme.index("## Deploying to AWS\n"))]


def _parameters() -> dict:
    return json.loads((ROOT / "infra" / "template.json").read_text())["Parameters"]


def test_the_guide_names_every_parameter_and_the_secret_behind_it():
    text = guide()
    for name in _parameters():
        assert f"`{name}`" in text, name
    for secret in ("REFPAY_PARTICIPANT_HASH_KEY", "REFPAY_CURSOR_KEY"):
        assert re.search(rf"^export .*{secret}=", text, re.M), secret
    for step in ("export AWS_DEFAULT_REGION=", "aws s3 mb s3://my-refpay-artifacts", "make package STAGE=prod",
                 "scripts/deploy deploy prod my-refpay-artifacts", "export REFPAY_STAGE=prod",
                 "scripts/dev manage create-org ", "scripts/dev manage create-key ", "scripts/smoke \"$API_URL\""):
        assert step in text, step


def test_the_guide_s_first_organisation_and_key_work_in_the_stage_s_tables(monkeypatch, capsys):
    """Step 4 as written, against the prod tables in an in-memory AWS, with no secret in the environment."""
    import shlex

    from moto import mock_aws

    import manage
    from chalicelib.services import auth
    from chalicelib.store.tables import create_tables

    text = guide()
    assert "export REFPAY_STAGE=prod" in text
    monkeypatch.setenv("REFPAY_STAGE", "prod")
    monkeypatch.delenv("REFPAY_TODAY", raising=False)  # the tests' pinned date: never set in a deployed stage
    for secret in ("REFPAY_PARTICIPANT_HASH_KEY", "REFPAY_CURSOR_KEY"):
        monkeypatch.delenv(secret, raising=False)
    commands = [shlex.split(c, comments=True) for c in re.findall(r"^scripts/dev manage (.+)$", text, re.M)]
    assert [c[0] for c in commands] == ["create-org", "create-key"]
    # The stack's usage plan, named as the guide reads it from the stack's outputs.
    assert "export REFPAY_USAGE_PLAN_ID=$(aws cloudformation describe-stacks --stack-name refpay-prod" in text
    assert "OutputKey=='UsagePlanId'" in text
    with mock_aws():
        import boto3

        plan = boto3.client("apigateway", region_name="eu-west-2").create_usage_plan(name="refpay-prod-per-key")
        monkeypatch.setenv("REFPAY_USAGE_PLAN_ID", plan["id"])
        create_tables("prod")
        auth.clear_cache()
        outputs = []
        for command in commands:
            assert manage.main(command) == 0, command
            outputs.append(json.loads(capsys.readouterr().out))
        principal = auth.authenticate("Bearer " + outputs[1]["api_key"])
        auth.clear_cache()
        in_plan = boto3.client("apigateway", region_name="eu-west-2").get_usage_plan_keys(usagePlanId=plan["id"])
    assert principal is not None and principal.org_id == commands[0][1] == outputs[0]["org_id"]
    assert principal.roles == {"referrer"}
    assert [k["value"] for k in in_plan["items"]] == [f"refpay-prod-{outputs[1]['key_id']}"]


@pytest.fixture
def deployed(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    log = tmp_path / "aws.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REFPAY_"))}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", FAKE_AWS_LOG=str(log), AWS_DEFAULT_REGION="eu-west-2",
               REFPAY_PARTICIPANT_HASH_KEY="h" * 40, REFPAY_CURSOR_KEY="c" * 40)
    result = subprocess.run([str(ROOT / "scripts" / "deploy"), "deploy", "prod", "my-refpay-artifacts"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return result, calls


def _option(args: list[str], name: str) -> list[str]:
    """The values after an option, up to the next option."""
    values = []
    for arg in args[args.index(name) + 1:]:
        if arg.startswith("--"):
            break
        values.append(arg)
    return values


def test_deploy_passes_every_parameter_the_packaged_stack_needs(deployed):
    result, calls = deployed
    assert [c[:2] for c in calls] == [["cloudformation", "package"], ["cloudformation", "deploy"],
                                      ["cloudformation", "describe-stacks"]]
    package, deploy, _ = calls
    assert _option(package, "--s3-bucket") == ["my-refpay-artifacts"]
    assert _option(package, "--template-file") == ["build/prod/sam.json"]
    template = json.loads((ROOT / "build" / "prod" / "packaged.json").read_text())
    overrides = dict(item.split("=", 1) for item in _option(deploy, "--parameter-overrides"))
    required = {name for name, p in template["Parameters"].items() if "Default" not in p}
    assert required <= set(overrides) <= set(template["Parameters"])
    assert overrides == {"Stage": "prod", "ParticipantHashKey": "h" * 40, "CursorKey": "c" * 40}
    assert _option(deploy, "--stack-name") == ["refpay-prod"]
    # CloudFormation takes at most 51,200 bytes inline; this template is larger, so it must go via S3.
    assert len((ROOT / "build" / "prod" / "packaged.json").read_bytes()) > 51_200
    assert _option(deploy, "--s3-bucket") == ["my-refpay-artifacts"]
    assert set(_option(deploy, "--capabilities")) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    # It was linted and checked for cycles before anything was uploaded, and says what to do next.
    assert "no circular dependencies" in result.stdout
    assert "API: https://abc123.execute-api.eu-west-2.amazonaws.com/api/" in result.stdout
    assert "scripts/smoke https://abc123.execute-api.eu-west-2.amazonaws.com/api/ KEY" in result.stdout
    assert "h" * 40 not in result.stdout + result.stderr


def test_deploy_refuses_to_start_without_the_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REFPAY_"))}
    result = subprocess.run([str(ROOT / "scripts" / "deploy"), "deploy", "prod", "my-refpay-artifacts"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "REFPAY_PARTICIPANT_HASH_KEY" in result.stderr
