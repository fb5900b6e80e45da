"""Each function's IAM policy allows exactly what its code calls: recorded from a real run of every path."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

import pytest

from chalicelib.store.tables import INFRA_TEMPLATE
from tests.conftest import chain_referral, referral_body

FUNCTION_ROLES = {"APIHandler": "ApiHandlerRole", "ApiKey": "AuthorizerRole", "NightlyCompliance": "NightlyRole",
                  "NightlyShard": "NightlyShardRole", "ClaimFileWorker": "ClaimFileWorkerRole"}
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


class Recorder:
    """(function, action, resource) for every AWS call made while `current` names the function running."""

    def __init__(self):
        self._current = "APIHandler"
        self.calls: dict[str, set[tuple[str, str]]] = defaultdict(set)

    @property
    def current(self) -> str:
        return self._current

    @current.setter
    def current(self, function: str) -> None:
        # Each function runs in containers of its own: none starts with another's cached data keys.
        from chalicelib.store import sealing

        if function != self._current:
            sealing.forget_data_keys()
        self._current = function

    def __call__(self, model, params, **kwargs):
        service = model.service_model.service_name
        op = model.name
        if service == "dynamodb":
            if op == "TransactWriteItems":
                for item in params["TransactItems"]:
                    kind, body = next(iter(item.items()))
                    self.calls[self.current].add((f"dynamodb:{_TRANSACT[kind]}", _table(body["TableName"])))
            elif op == "TransactGetItems":  # authorised as a GetItem of each item it reads
                for item in params["TransactItems"]:
                    self.calls[self.current].add(("dynamodb:GetItem", _table(item["Get"]["TableName"])))
            elif op in ("BatchGetItem", "BatchWriteItem"):
                for table in params["RequestItems"]:
                    self.calls[self.current].add((f"dynamodb:{op}", _table(table)))
            elif "TableName" in params:
                suffix = "/index" if params.get("IndexName") else ""
                self.calls[self.current].add((f"dynamodb:{op}", _table(params["TableName"]) + suffix))
        elif service == "s3":
            self.calls[self.current].add((f"s3:{op}", "bucket"))
        elif service == "kms":
            self.calls[self.current].add((f"kms:{op}", "personal-data-key"))
        elif service == "lambda" and op == "Invoke":
            target = "worker-function" if "ClaimFileWorker" in params["FunctionName"] else "shard-function"
            self.calls[self.current].add(("lambda:InvokeFunction", target))


def _table(name: str) -> str:
    return name.removeprefix("refpay-dev-")


LOGICAL = {"organisations": "OrganisationsTable", "api-keys": "ApiKeysTable", "referrals": "ReferralsTable",
           "referral-events": "ReferralEventsTable", "referral-parties": "ReferralPartiesTable",
           "participants": "ParticipantsTable",
           "allocations": "AllocationsTable", "idempotency": "IdempotencyTable", "payment-lines": "PaymentLinesTable",
           "claim-files": "ClaimFilesTable", "pending-work": "PendingWorkTable", "flags": "FlagsTable",
           "runs": "RunsTable", "payment-records": "PaymentRecordsTable", "access-log": "AccessLogTable"}


def granted(role: str) -> set[tuple[str, str]]:
    """(action, resource) pairs a role's policy grants, resources named like the recorder names them."""
    template = json.loads(INFRA_TEMPLATE.read_text())
    statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    out = set()
    reverse = {v: k for k, v in LOGICAL.items()}
    for st in statements:
        assert st["Effect"] == "Allow"
        for action in st["Action"]:
            if action.startswith(("logs:", "xray:")):
                continue  # the Lambda runtime's own log and trace writes (X-Ray has no resource-level ARNs)
            for resource in st["Resource"]:
                if "Fn::GetAtt" in resource and resource["Fn::GetAtt"][0] in reverse:
                    out.add((action, reverse[resource["Fn::GetAtt"][0]]))
                elif "Fn::Sub" in resource and "/index/*" in resource["Fn::Sub"]:
                    out.add((action, reverse[resource["Fn::Sub"].split(".Arn")[0].lstrip("${")] + "/index"))
                elif "ClaimFilesBucket" in json.dumps(resource):
                    out.add((action, "bucket"))
                elif resource == {"Fn::GetAtt": ["PersonalDataKey", "Arn"]}:
                    out.add((action, "personal-data-key"))
                elif "NightlyShard" in json.dumps(resource):
                    out.add((action, "shard-function"))
                elif "ClaimFileWorker" in json.dumps(resource):
                    out.add((action, "worker-function"))
                else:
                    raise AssertionError(f"{role}: unexpected resource {resource}")
    return out


def _record_everything(api, keys, monkeypatch) -> Recorder:
    import botocore.client

    from chalicelib.services import auth, nightly

    recorder = Recorder()
    original = botocore.client.BaseClient._make_api_call

    def spy(self, operation_name, api_params):
        model = self.meta.service_model.operation_model(operation_name)
        recorder(model, api_params)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    real_load = auth._load

    def as_authorizer(digest):
        recorder.current = "ApiKey"
        try:
            return real_load(digest)
        finally:
            recorder.current = "APIHandler"

    monkeypatch.setattr(auth, "_load", as_authorizer)
    orgs = keys["organisations"]
    # Every API path: referral and journey, transfer and return, payments and files, lists and compliance.
    provider, referrer, finance = keys["provider"], keys["referrer"], keys["finance"]
    rid = api.post("/referrals", referrer, referral_body(), headers={"Idempotency-Key": "lp-1"}).body["id"]
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-11-24"}),
                       ("start", {"date": "2026-11-24"}), ("assessments", {"date": "2026-11-24"}),
                       ("action-plans", {"date": "2026-11-24"}), ("reviews", {"date": "2026-11-24"}),
                       ("outcomes", {"type": "job_start", "date": "2026-11-24", "employer_name": "E",
                                     "hours_per_week": 20, "weekly_earnings_pence": 20000})]:
        assert api.post(f"/referrals/{rid}/{path}", provider, body).status in (200, 201)
    # Rejected before it began (no claim, no mandated retention): the controller's erasure deletes the referral's
    # sealed personal fields.
    gone = api.post("/referrals", referrer, referral_body(nino="AB000009A"))
    assert gone.status == 201, gone.body
    assert api.post(f"/referrals/{gone.body['id']}/acknowledgement", provider, {
        "decision": "reject", "date": "2026-11-24", "reason": "inappropriate"}).status == 200
    erased = api.post(f"/referrals/{gone.body['id']}/erasure", keys["admin"], {"reason": "the person asked"})
    assert erased.status == 200, erased.body
    assert api.post(f"/referrals/{rid}/transfer", provider, {"to_provider_id": "great-yarmouth-works",
                    "date": "2026-11-24", "handover": {"date": "2026-11-24"}}).status == 200
    mentor = orgs["great-yarmouth-works"]["provider"]
    # A return (Work Choice allows one): the person's record is read once the former referral names them.
    returning = referral_body(programme_id="work-choice", provider_id="brightside-supported-employment",
                              nino="AB000006A")
    returning["participant"]["eligibility"] = {"disabled": True, "right_to_work": True}
    former = api.post("/referrals", referrer, returning).body["id"]
    holder = orgs["brightside-supported-employment"]["provider"]
    for path, body in [("accept", {}), ("start", {}), ("exit", {"reason": "withdrew", "exit_review": {
            "date": "2026-11-24", "destination": "unemployed"}})]:
        assert api.post(f"/referrals/{former}/{path}", holder, {"date": "2026-11-24", **body}).status == 200
    assert api.post(f"/referrals/{former}/re_referral", referrer,
                    {"consent": {"given": True, "date": "2026-11-24"}}).status == 201
    # The chain: a Level 2 group refers to the prime, which routes (the group mentors: the party index), the
    # mentor records a contact, claims with it and lists the referrals it mentors.
    mentored = chain_referral(api, keys, nino="AB000009A")
    mentoring = orgs["broadland-mentors"]["provider"]
    line = api.post("/claims", mentoring, {"referral_id": mentored, "fee_id": "level-2-support", "amount_pence": 100,
                                           "event_date": "2026-11-24", "evidence_ref": "e",
                                           "contact_ids": ["mc1"]}).body["line_id"]
    assert [r["id"] for r in api.get("/referrals?view=party", mentoring).body["items"]] == [mentored]
    api.post(f"/claims/{line}/approve", finance, {})
    api.post("/claims/decisions", finance, {"line_ids": [line], "decision": "approve"})
    api.get("/claims", finance)
    api.get(f"/claims/{line}", finance)
    api.get("/payments/cascade?period=2026-11", finance)
    cut = _cut_deployed(api, finance, recorder, monkeypatch)
    api.get(f"/claim-files/{cut['id']}", finance)
    api.post(f"/claims/{line}/clawback", finance, {"reason": "error"})
    # The commissioner validates the file: its rate, a sample, checks before and after paying, the payment.
    dwp = keys["commissioner_finance"]
    assert api.post("/programmes/flexible-routeways-norfolk/sample-rate", dwp, {"sample_rate_bp": 10000}).status == 200
    api.get("/programmes/flexible-routeways-norfolk/sample-rate", dwp)
    assert api.post(f"/claim-files/{cut['id']}/sample", dwp, {}).status == 201
    drawn = [c["line_id"] for c in api.get(f"/claim-files/{cut['id']}/sample", dwp).body["items"]]
    for line_id in drawn:
        assert api.post(f"/claim-files/{cut['id']}/checks", dwp, {"line_id": line_id, "result": "passed"}).status == 200
    assert api.post(f"/claim-files/{cut['id']}/payment", dwp, {"paid_on": "2026-11-24", "reference": "P-1"}).status == 200
    after = next(i for i in drawn if i != line)
    assert api.post(f"/claim-files/{cut['id']}/checks", dwp, {"line_id": after, "result": "failed",
                                                            "reason": "audit"}).status == 200
    # The prime passes the money on; the supply chain as the commissioner sees it (a late flag is looked for).
    assert api.post("/payments/pass-throughs", finance, {
        "programme_id": "flexible-routeways-norfolk", "period": "2026-11", "subcontractor_org_id": "kings-lynn-works",
        "amount_pence": 100, "paid_on": "2026-11-24", "reference": "P-2"}).status == 201
    monkeypatch.setenv("REFPAY_TODAY", "2027-01-30")
    assert api.get("/payments/supply-chain?programme=flexible-routeways-norfolk&period=2026-11", dwp).status == 200
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-24")
    assert api.post(f"/referrals/{rid}/exit", mentor, {"date": "2026-11-24", "reason": "withdrew",
                    "exit_review": {"date": "2026-11-24", "destination": "unemployed"}}).status == 200
    api.get("/referrals", referrer)
    api.get(f"/referrals/{rid}", referrer)
    api.get(f"/referrals/{rid}/events", referrer)
    api.get("/programmes/flexible-routeways-norfolk", referrer)
    api.get("/compliance/flags", provider)
    monkeypatch.setenv("REFPAY_TODAY", "2027-03-30")
    late = api.post("/referrals", referrer, referral_body(programme_id="local-supported-employment",
                    provider_id="leeds-city-council", nino="AB000007A", consent={"given": True, "date": "2027-03-30"}))
    assert late.status == 201
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-24")
    # The nightly job: flags, a closure after the window, tranches, the run record and programme checks.
    lse = api.post("/referrals", referrer, referral_body(programme_id="local-supported-employment",
                   provider_id="leeds-city-council", nino="AB000008A")).body["id"]
    leeds = orgs["leeds-city-council"]["provider"]
    api.post(f"/referrals/{lse}/acknowledgement", leeds, {"decision": "accept", "date": "2026-11-24"})
    api.post(f"/referrals/{lse}/start", leeds, {"date": "2026-11-24"})
    recorder.current = "NightlyCompliance"
    nightly.run(date(2026, 12, 24))
    recorder.current = "APIHandler"
    api.get("/compliance/runs/2026-12-24", provider)
    # A step that resolves a flag (the assessment was due 22 December).
    monkeypatch.setenv("REFPAY_TODAY", "2026-12-24")
    assert api.post(f"/referrals/{lse}/assessments", leeds, {"date": "2026-12-24"}).status == 201
    assert api.get("/compliance/flags?status=resolved", leeds).body["items"]
    recorder.current = "NightlyCompliance"
    nightly.run(date(2027, 4, 21))  # closes the referral never started after the window shut
    recorder.current = "APIHandler"
    assert api.get(f"/referrals/{late.body['id']}", leeds).body["status"] == "did_not_start"
    # The controller (the commissioner's admin): the access log, a subject access export, an erasure request; and
    # the nightly erasure of a referral whose retention ended (LSE keeps personal fields 2 years after the end).
    controller = keys["admin"]
    reference = api.get(f"/referrals/{rid}", referrer).body["participant"]["reference"]
    assert api.get("/access-log", controller).status == 200
    assert api.get(f"/access-log?participant={reference}", controller).status == 200
    assert api.post("/subject-access", controller, {"nino": "AB123456C"}).status == 200
    assert api.post(f"/referrals/{rid}/erasure", controller, {"reason": "the person asked"}).status in (200, 409)
    recorder.current = "NightlyCompliance"
    nightly.run(date(2029, 4, 23))
    recorder.current = "APIHandler"
    assert api.get(f"/referrals/{late.body['id']}", leeds).body["participant"]["personal_data"] == "erased"
    # Deployed, the schedule fans out: one asynchronous invocation of the shard function per shard.
    from botocore.stub import Stubber

    from chalicelib.schedules import nightly as schedules

    lambda_client = schedules.lambda_client()
    with Stubber(lambda_client) as stub:
        for _ in range(32):
            stub.add_response("invoke", {"StatusCode": 202})
        monkeypatch.setenv("REFPAY_NIGHTLY_SHARD_FUNCTION", "refpay-dev-NightlyShard")
        recorder.current = "NightlyCompliance"
        schedules.nightly_compliance.func(type("Event", (), {"time": "2027-05-01T01:30:00Z", "context": None})())
        recorder.current = "APIHandler"
    return recorder


def _cut_deployed(api, finance: str, recorder: Recorder, monkeypatch) -> dict:
    """Cut November's file as deployed: the API invokes the worker function asynchronously, and the worker builds
    the file; first a build that stops after locking (S3 fails), then the retry that takes it over."""
    from botocore.stub import Stubber

    from chalicelib.adapters import workers
    from chalicelib.schedules.claim_files import claim_file_worker
    from chalicelib.services import claim_files

    monkeypatch.setenv("REFPAY_TODAY", "2026-12-01")
    monkeypatch.setenv("REFPAY_CLAIM_FILE_WORKER_FUNCTION", "refpay-dev-ClaimFileWorker")
    with Stubber(workers._client()) as stub:
        stub.add_response("invoke", {"StatusCode": 202})
        cut = api.post("/claim-files", finance, {"programme_id": "flexible-routeways-norfolk", "period": "2026-11"})
    assert cut.status == 202, cut.body
    context = type("Context", (), {"get_remaining_time_in_millis": lambda self: 900_000})()
    recorder.current = "ClaimFileWorker"
    try:
        with monkeypatch.context() as broken:
            broken.setattr(claim_files.store().files, "upload", lambda key, body: (_ for _ in ()).throw(OSError()))
            with pytest.raises(OSError):
                claim_file_worker({"claim_file_id": cut.body["id"]}, context)
        done = claim_file_worker({"claim_file_id": cut.body["id"]}, context)
    finally:
        recorder.current = "APIHandler"
    assert done["status"] == "ready" and done["line_count"] >= 1, done
    monkeypatch.delenv("REFPAY_CLAIM_FILE_WORKER_FUNCTION")
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-24")
    return cut.body


@pytest.fixture
def recorded(api, keys, monkeypatch):
    return _record_everything(api, keys, monkeypatch)


def _needs(calls: set[tuple[str, str]]) -> set[tuple[str, str]]:
    out = set()
    for action, resource in calls:
        if action == "s3:CreateBucket":
            continue
        if action == "kms:DescribeKey":
            continue  # a local stage names its key by alias and looks up the ARN; a deployed one is given the ARN
        # Presigning a download URL signs a GetObject the caller makes later with the function's credentials.
        out.add((action, resource))
    return out


@pytest.mark.parametrize("function", ["APIHandler", "ApiKey", "NightlyCompliance", "ClaimFileWorker"])
def test_policy_allows_what_the_code_calls_and_nothing_more(recorded, function):
    used = _needs(recorded.calls[function])
    if function == "APIHandler":
        used.add(("s3:GetObject", "bucket"))  # the presigned download link is signed with this role
    allowed = granted(FUNCTION_ROLES[function])
    assert used - allowed == set(), f"{function} calls what its policy does not allow"
    assert allowed - used == set(), f"{function}'s policy allows what its code never calls"


def test_no_wildcards_in_any_policy():
    template = json.loads(INFRA_TEMPLATE.read_text())
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for st in resource["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
            for action in st["Action"]:
                assert not action.endswith(":*") and action != "*", (name, action)
            if all(a.startswith("xray:") for a in st["Action"]):
                continue  # X-Ray's trace writes take no resource ARN: AWS documents "*" as their only resource
            assert "*" not in [r for r in st["Resource"] if isinstance(r, str)], (name, st)


def test_the_shard_function_has_the_nightly_role_s_rights():
    assert granted("NightlyShardRole") == granted("NightlyRole")


def test_a_broader_policy_is_caught(recorded):
    allowed = granted("AuthorizerRole") | {("dynamodb:PutItem", "api-keys")}
    assert allowed - _needs(recorded.calls["ApiKey"]) == {("dynamodb:PutItem", "api-keys")}
