"""No circular dependency between the packaged template's resources, checked by our own graph, so it does not
depend on what a linter version still detects (newer cfn-lint skips cycles that involve SAM resources)."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.template_graph import cycles_in, dependency_graph, find_cycles, main, references

ROOT = Path(__file__).resolve().parents[2]
LOG_GROUP = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/"


def _role(*statements_resources) -> dict:
    return {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": [r]}
                      for r in statements_resources]}}]}}


def _function(role: str | None = "Role", kind: str = "AWS::Lambda::Function", **properties) -> dict:
    props = {"Runtime": "python3.13", **properties}
    if role:
        props["Role"] = {"Fn::GetAtt": [role, "Arn"]}
    return {"Type": kind, "Properties": props}


# ------------------------------------------------------------------ the checker can fail


def test_a_role_naming_its_function_in_a_sub_is_a_cycle():
    """The defect once shipped, in plain CloudFormation: the function names its role, the role's log policy
    names the function with ${Name}."""
    template = {"Resources": {"Fn": _function(), "Role": _role({"Fn::Sub": LOG_GROUP + "${Fn}:*"})}}
    assert cycles_in(template) == [["Fn", "Role", "Fn"]]


def test_the_same_in_a_sam_function_is_a_cycle():
    template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "Fn": _function(kind="AWS::Serverless::Function"), "Role": _role({"Fn::Sub": LOG_GROUP + "${Fn}"})}}
    assert cycles_in(template) == [["Fn", "Role", "Fn"]]


@pytest.mark.parametrize("reference", [
    {"Fn::Sub": "${Fn.Arn}"},
    {"Fn::Sub": ["${Name}", {"Name": {"Ref": "Fn"}}]},
    {"Fn::Sub": ["${AWS::Region}-${Name}", {"Name": {"Fn::GetAtt": ["Fn", "Arn"]}}]},
    {"Fn::Sub": ["arn:${Fn}", {"Other": "x"}]},
    {"Fn::GetAtt": "Fn.Arn"},
    {"Fn::GetAtt": ["Fn", "Arn"]},
    {"Ref": "Fn"},
    {"Fn::Join": ["", [{"Fn::If": ["Cond", {"Ref": "Fn"}, "x"]}]]},
], ids=["sub-attr", "sub-list-var", "sub-list-var-getatt", "sub-list-text", "getatt-string", "getatt-list", "ref",
        "nested-if"])
def test_every_form_of_reference_closes_a_cycle(reference):
    template = {"Resources": {"Fn": _function(), "Role": _role(reference)}}
    assert cycles_in(template) == [["Fn", "Role", "Fn"]]


@pytest.mark.parametrize("depends_on", ["Fn", ["Other", "Fn"]])
def test_depends_on_closes_a_cycle(depends_on):
    template = {"Resources": {"Fn": _function(), "Role": {**_role("*"), "DependsOn": depends_on},
                              "Other": {"Type": "AWS::SNS::Topic"}}}
    assert cycles_in(template) == [["Fn", "Role", "Fn"]]


def test_a_resource_referring_to_itself_is_a_cycle():
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Topic"}}}}}
    assert cycles_in(template) == [["Topic", "Topic"]]


def test_a_longer_cycle_is_reported_once_as_a_path():
    template = {"Resources": {
        "A": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "B"}}},
        "B": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::GetAtt": ["C", "TopicName"]}}},
        "C": {"Type": "AWS::SNS::Topic", "DependsOn": "A"},
        "D": {"Type": "AWS::SNS::Topic", "DependsOn": ["A", "C"]}}}
    assert cycles_in(template) == [["A", "B", "C", "A"]]


def test_sam_layers_and_generated_resources_are_followed():
    sam = "AWS::Serverless::Function"
    # The function depends on its layer: a layer naming the function closes a cycle.
    layer = {"Fn": _function(kind=sam, Layers=[{"Ref": "Layer"}]), "Role": _role("*"),
             "Layer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"Description": {"Fn::Sub": "${Fn}"}}}}
    assert cycles_in({"Resources": layer}) == [["Fn", "Layer", "Fn"]]
    # Without a Role, SAM generates FnRole from Policies: a policy naming a resource that names FnRole.
    generated = {"Fn": _function(None, kind=sam, Policies=[{"Statement": [{"Resource": {"Ref": "Queue"}}]}]),
                 "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "FnRole"}}}}
    assert cycles_in({"Resources": generated}) == [["FnRole", "Queue", "FnRole"]]
    # An event becomes its own resources that depend on the function: the function naming them is a cycle.
    event = {"Fn": _function(kind=sam, Events={"Nightly": {"Type": "Schedule", "Properties": {
                 "Schedule": "rate(1 day)"}}}, Environment={"Variables": {"RULE": {"Ref": "FnNightly"}}}),
             "Role": _role("*")}
    assert cycles_in({"Resources": event}) == [["Fn", "FnNightly", "Fn"]]
    # `Api.Stage` and friends are generated from Api alone: a reference to them is one to Api.
    stage = {"Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "api", "Variables": {
                 "fn": {"Ref": "Fn"}}}},
             "Fn": _function(kind=sam, Environment={"Variables": {"STAGE": {"Ref": "Api.Stage"}}}), "Role": _role("*")}
    assert cycles_in({"Resources": stage}) == [["Api", "Fn", "Api"]]


# ------------------------------------------------------------------ and does not cry wolf


def test_parameters_pseudo_parameters_literals_and_sub_variables_are_not_dependencies():
    template = {"Parameters": {"Stage": {"Type": "String"}}, "Resources": {
        "Fn": _function(FunctionName={"Fn::Sub": "refpay-${Stage}-Fn"}),
        "Role": _role({"Fn::Sub": LOG_GROUP + "refpay-${Stage}-Fn:*"},
                      {"Fn::Sub": "${!Fn} ${AWS::Region} ${AWS::StackName}"},
                      {"Fn::Sub": ["${Fn}", {"Fn": "a-literal-shadowing-the-resource"}]},
                      {"Ref": "AWS::AccountId"}, {"Ref": "Stage"})}}
    assert dependency_graph(template) == {"Fn": {"Role"}, "Role": set()}
    assert cycles_in(template) == []


def test_an_api_naming_a_function_whose_event_names_the_api_is_not_a_cycle():
    """SAM turns the Api event into a permission that depends on both; the function itself does not."""
    template = {"Resources": {
        "Api": {"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": {"x-authorizer": {
            "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/functions/${Fn.Arn}/invocations"}}}},
        "Fn": _function(kind="AWS::Serverless::Function", Events={"Get": {"Type": "Api", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Path": "/", "Method": "get"}}}),
        "Role": _role("*")}}
    assert dependency_graph(template)["FnGet"] == {"Api", "Fn"}
    assert cycles_in(template) == []


def test_references_finds_names_wherever_they_are_nested():
    value = {"A": [{"Fn::If": ["C", {"Ref": "X"}, {"Fn::Sub": ["${Y.Arn}/${v}", {"v": {"Fn::GetAtt": "Z.Name"}}]}]}]}
    assert references(value) == {"X", "Y", "Z"}


def test_find_cycles_on_a_plain_graph():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"c"}, "d": {"a"}}) == [["a", "b", "a"], ["c", "c"]]


def test_the_command_line_fails_on_a_cycle(tmp_path, capsys):
    cyclic = tmp_path / "cyclic.json"
    cyclic.write_text(json.dumps({"Resources": {"Fn": _function(), "Role": _role({"Fn::Sub": "${Fn}"})}}))
    assert main([str(cyclic)]) == 1
    assert "circular dependency: Fn -> Role -> Fn" in capsys.readouterr().err
    fine = tmp_path / "fine.json"
    fine.write_text(json.dumps({"Resources": {"Fn": _function(), "Role": _role("*")}}))
    assert main([str(fine)]) == 0


# ------------------------------------------------------------------ the packaged template


def test_the_packaged_template_has_no_cycle(packaged):
    graph = dependency_graph(packaged.template)
    # The graph sees the references that matter (an empty graph would pass vacuously).
    assert {"ApiHandlerRole", "ManagedLayer", "ClaimFilesBucket"} <= graph["APIHandler"]
    assert {"ApiKey"} <= graph["RestAPI"]  # the authorizer's ARN in the API definition
    assert {"NightlyShard", "NightlyRole"} <= graph["NightlyCompliance"]
    assert graph["NightlyComplianceNightlyComplianceEvent"] == {"NightlyCompliance"}
    assert {"NightlyShard", "RunsTable"} <= graph["NightlyRole"]
    assert cycles_in(packaged.template) == []


@pytest.mark.parametrize("function, role", [("APIHandler", "ApiHandlerRole"), ("ApiKey", "AuthorizerRole"),
                                            ("NightlyCompliance", "NightlyRole"), ("NightlyShard", "NightlyShardRole"),
                                            ("ClaimFileWorker", "ClaimFileWorkerRole")])
def test_the_packaged_template_with_the_old_log_policy_is_caught(packaged, function, role):
    """Put back the log ARN the template used to build from the function's own name: the check fails."""
    template = copy.deepcopy(packaged.template)
    for statement in template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        if statement["Sid"] == "LogGroup":
            statement["Resource"] = [{"Fn::Sub": LOG_GROUP + "${" + function + "}"}]
    assert cycles_in(template) == [sorted([function, role]) + [sorted([function, role])[0]]]


def test_the_command_line_accepts_the_packaged_template(packaged):
    result = subprocess.run([sys.executable, "-m", "tests.infra.template_graph", str(packaged.sam)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "no circular dependencies" in result.stdout
