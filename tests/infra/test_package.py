"""The deployable template is produced offline (no AWS credentials) and the newest cfn-lint accepts it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.infra.template_graph import references

BIN = Path(sys.executable).parent

FUNCTION_ROLES = {"APIHandler": "ApiHandlerRole", "ApiKey": "AuthorizerRole", "NightlyCompliance": "NightlyRole",
                  "NightlyShard": "NightlyShardRole", "ClaimFileWorker": "ClaimFileWorkerRole"}


def test_cfn_lint_reports_nothing(packaged):
    # cfn-lint exits non-zero on warnings too: each one is fixed, or ignored in the template with its reason.
    lint = subprocess.run([str(BIN / "cfn-lint"), str(packaged.sam)], capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout == ""


def test_each_function_has_its_own_least_privilege_role(packaged):
    resources = packaged.template["Resources"]
    roles = {name: r["Properties"]["Role"] for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert roles == {fn: {"Fn::GetAtt": [role, "Arn"]} for fn, role in FUNCTION_ROLES.items()}
    assert "DefaultRole" not in resources
    assert resources["APIHandler"]["Properties"]["Environment"]["Variables"]["REFPAY_STAGE"] == "prod"
    # The API hands each claim file's build to the worker function, asynchronously, and may invoke nothing else.
    assert resources["APIHandler"]["Properties"]["Environment"]["Variables"][
        "REFPAY_CLAIM_FILE_WORKER_FUNCTION"] == {"Ref": "ClaimFileWorker"}
    start = {s["Sid"]: s for s in resources["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
             ["Statement"]}["StartClaimFileWorker"]
    assert (start["Action"], start["Resource"]) == (["lambda:InvokeFunction"],
                                                    [{"Fn::GetAtt": ["ClaimFileWorker", "Arn"]}])
    assert resources["ClaimFileWorker"]["Properties"]["Timeout"] == 900
    assert resources["ReferralsTable"]["Properties"]["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}


def test_roles_name_their_function_s_log_group_without_referring_to_the_function(packaged):
    """Each function has a fixed name, so its role can name the function's log group without a reference to
    the function (which depends on the role: a reference back would be a cycle CloudFormation refuses)."""
    resources = packaged.template["Resources"]
    arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/"
    for fn, role in FUNCTION_ROLES.items():
        name = resources[fn]["Properties"]["FunctionName"]
        assert name == {"Fn::Sub": f"refpay-${{Stage}}-{fn}"}
        statements = {s["Sid"]: s for s in resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
        assert statements["LogGroup"]["Action"] == ["logs:CreateLogGroup"]
        assert statements["LogGroup"]["Resource"] == [{"Fn::Sub": arn + name["Fn::Sub"]}]
        assert statements["Logs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statements["Logs"]["Resource"] == [{"Fn::Sub": arn + name["Fn::Sub"] + ":*"}]
        assert fn not in references(resources[role]), role
    # A shard that runs short of time invokes itself again: exactly its own function, by its fixed name.
    shard = {s["Sid"]: s for s in resources["NightlyShardRole"]["Properties"]["Policies"][0]["PolicyDocument"]
             ["Statement"]}["ContinueShard"]
    assert shard["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                                             + resources["NightlyShard"]["Properties"]["FunctionName"]["Fn::Sub"]}]


def test_gateway_problem_responses_are_part_of_the_api_definition(packaged):
    """In the API's own definition, every deployment of the stage carries them (a separate GatewayResponse
    resource changes nothing live until the API is deployed again)."""
    resources = packaged.template["Resources"]
    assert not [n for n, r in resources.items() if r["Type"] == "AWS::ApiGateway::GatewayResponse"]
    responses = resources["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == {"UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "THROTTLED",
                              "QUOTA_EXCEEDED", "INVALID_API_KEY", "DEFAULT_4XX", "DEFAULT_5XX"}
    for kind, response in responses.items():
        assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        body = json.loads(response["responseTemplates"]["application/json"])
        assert body["type"].startswith("https://refpay.dev/problems/") and "request_id" in body, kind
    # The handler's paths survived the merge.
    assert "/health" in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]


def test_dependencies_ship_in_a_layer(packaged):
    # The function's own zip stays small.
    assert (packaged.out / "deployment.zip").stat().st_size < 1_000_000
    assert (packaged.out / "layer-deployment.zip").exists()


def test_every_authenticated_route_goes_through_the_bearer_key_authorizer_and_the_usage_plan(packaged):
    """Chalice names a route's security after its authorizer, and `api_key` is the name API Gateway reads as "this
    method needs a usage-plan key". The authorizer's scheme is therefore `bearer` (chalicelib/api/auth.py) and
    `api_key` is the usage-plan key, which the authorizer supplies (api-key source AUTHORIZER): every
    authenticated route runs our authorizer and is metered per key; a public route neither."""
    import app

    body = packaged.template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    definitions = body["securityDefinitions"]
    assert definitions == {
        "bearer": {
            "type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": {"Fn::Sub": (
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ApiKey.Arn}"
                "/invocations")}, "authorizerResultTtlInSeconds": 0}},
        "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
    assert body["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"
    for path, methods in app.app.routes.items():
        for method, route in methods.items():
            security = body["paths"][path][method.lower()].get("security")
            if route.authorizer is None:
                assert security is None, (method, path)
            else:
                assert security == [{"api_key": []}, {route.authorizer.name: []}], (method, path)
                assert route.authorizer.name == "bearer"
