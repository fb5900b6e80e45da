"""The OpenAPI 3 document, generated from the declared endpoints and their marshmallow schemas."""
from __future__ import annotations

import json
import re
from typing import Any

from .routing import RouteDoc
from .schema_refs import schema_class

_STATUS_TEXT = {202: "Accepted: follow the Location until it is done",
                401: "No valid API key", 403: "Your role does not allow this", 404: "Not found (or not yours)",
                409: "Conflicts with the current state", 415: "Unsupported media type",
                422: "Breaks a validation or programme rule", 503: "Busy; retry after the Retry-After delay"}


def document(routes: list[RouteDoc]) -> dict[str, Any]:
    from apispec import APISpec  # only this endpoint needs it: kept out of the cold start
    from apispec.ext.marshmallow import MarshmallowPlugin

    from .schemas import ProblemOut

    spec = APISpec(title="refpay", version="1.0.0", openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": "Referrals and payments for employment-support programmes. Every error "
                                        "is application/problem+json (RFC 9457). Every POST honours "
                                        "Idempotency-Key."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=ProblemOut)
    paths: dict[str, dict] = {}
    for route in routes:
        op: dict = {"summary": route.summary, "tags": route.tags, "operationId": _operation_id(route),
                    "responses": {}}
        parameters = [{"in": "path", "name": n, "required": True, "schema": {"type": "string"}}
                      for n in re.findall(r"{(\w+)}", route.path)]
        if route.query:
            parameters.append({"in": "query", "schema": schema_class(route.query)})
        if route.method == "POST":
            parameters.append({"in": "header", "name": "Idempotency-Key", "required": False,
                               "description": "replays the first response; printable characters only",
                               "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                          "pattern": "^[^\\u0000-\\u001F\\u007F]+$"}})
        if parameters:
            op["parameters"] = parameters
        if route.body:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": schema_class(route.body)}}}
        if route.authenticated:
            op["security"] = [{"bearer": []}]
        if route.deprecated:
            op["deprecated"] = True
        schema = schema_class(route.response) if route.response else {"type": "object"}
        for code in (route.status, *route.also):
            op["responses"][str(code)] = {"description": _STATUS_TEXT.get(code, "OK"),
                                          "content": {"application/json": {"schema": schema}}}
        for code in route.errors:
            op["responses"][str(code)] = {"description": _STATUS_TEXT.get(code, "Error"), "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if route.authenticated:  # the gateway's throttle for the key (README, "Abuse limits")
            op["responses"]["429"] = {
                "description": "Over this key's rate, burst or daily quota: retry after the Retry-After delay",
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        op["responses"]["500"] = {"description": "Internal error", "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        paths.setdefault(route.path, {})[route.method.lower()] = op
    _link_created_resources(paths)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    # Validator bounds on decimal fields come out as Decimal: publish them as plain JSON numbers.
    return json.loads(json.dumps(spec.to_dict(), default=lambda v: int(v) if v == int(v) else str(v)))


# A created resource's id feeds the operations on it (OpenAPI links: what a client, or a stateful test,
# can do next with what it just created).
_CREATORS = {"/referrals": "referral_id", "/claims": "line_id", "/claim-files": "claim_file_id"}
_ID_FIELDS = {"/referrals": "id", "/claims": "line_id", "/claim-files": "id"}


def _link_created_resources(paths: dict[str, dict]) -> None:
    for creator, param in _CREATORS.items():
        responses = paths.get(creator, {}).get("post", {}).get("responses", {})
        created = responses.get("201") or responses.get("202")
        if created is None:
            continue
        links = {}
        for path, operations in paths.items():
            if f"{{{param}}}" not in path:
                continue
            for op in operations.values():
                links[op["operationId"]] = {"operationId": op["operationId"],
                                            "parameters": {param: f"$response.body#/{_ID_FIELDS[creator]}"}}
        created["links"] = links


def _operation_id(route: RouteDoc) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace("-", "_").split("/")
    name = route.method.lower() + "_" + "_".join(w for w in words if w)
    return name + "_deprecated" if route.deprecated else name
