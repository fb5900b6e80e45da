"""Logs are JSON with a correlation id, business metrics go out as EMF, and no personal data is logged."""
from __future__ import annotations

import json
from datetime import date

from tests.conftest import chain_referral, referral_body

PERSON = {"nino": "JK482915B", "given_name": "Perpetua", "family_name": "Quennell", "date_of_birth": "1987-03-09",
          "postcode": "NR2 4TZ"}


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_full_journey_logs_no_personal_data_and_counts_its_business(api, keys, capsys, monkeypatch):
    from chalicelib.services import nightly

    capsys.readouterr()
    body = referral_body()
    body["participant"].update(PERSON)
    created = api.post("/referrals", keys["referrer"], body, headers={"X-Correlation-Id": "corr-123"})
    assert created.headers["x-correlation-id"] == "corr-123"
    rid = created.body["id"]
    provider = keys["provider"]
    for path, payload in [("acknowledgement", {"decision": "accept", "date": "2026-11-24"}),
                          ("start", {"date": "2026-11-24"}), ("assessments", {"date": "2026-11-24"}),
                          ("action-plans", {"date": "2026-11-24"}),
                          ("outcomes", {"type": "job_start", "date": "2026-11-24", "employer_name": "Quay Ltd",
                                        "hours_per_week": 20, "weekly_earnings_pence": 30000})]:
        assert api.post(f"/referrals/{rid}/{path}", provider, payload).status in (200, 201)
    bad = dict(body, participant={**body["participant"], "postcode": "NOT VALID"})
    assert api.post("/referrals", keys["referrer"], bad).status == 422
    assert api.post("/referrals", keys["referrer"], body).status == 422  # already active
    api.get(f"/referrals/{rid}", provider)
    nightly.run(date(2026, 12, 1))
    out, err = capsys.readouterr()
    everything = out + err
    for value in PERSON.values():
        assert value not in everything, value
    assert "JK 48 29 15 B" not in everything and "Perpetua" not in everything

    logs = _lines(err)
    requests = [entry for entry in logs if entry.get("message") == "request"]
    assert requests and all(entry["service"] == "refpay" and entry.get("correlation_id") for entry in requests)
    assert requests[0]["correlation_id"] == "corr-123" and requests[0]["status"] == 201
    run_lines = [entry for entry in logs if entry.get("message", "").startswith("nightly run")]
    assert run_lines and all(entry["correlation_id"] == "nightly#2026-12-01" for entry in run_lines)

    emf = [entry for entry in _lines(out) if "_aws" in entry]
    names = {m["Name"] for entry in emf for d in entry["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"ReferralsCreated", "ReferralsAccepted", "Starts", "JobStarts"} <= names
    assert all(entry["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "refpay" for entry in emf)
    created = [entry["ReferralsCreated"] for entry in emf if "ReferralsCreated" in entry]
    assert sum(v if isinstance(v, int) else sum(v) for v in created) == 1  # refused referrals are not counted


def test_claim_approvals_are_counted_with_their_value(api, keys, capsys):
    orgs = keys["organisations"]
    mentor = orgs["broadland-mentors"]["provider"]
    rid = chain_referral(api, keys)
    line = api.post("/claims", mentor, {"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 12345,
                                        "event_date": "2026-11-24", "evidence_ref": "e",
                                        "contact_ids": ["mc1"]}).body["line_id"]
    capsys.readouterr()
    assert api.post(f"/claims/{line}/approve", keys["finance"], {}).status == 200
    emf = [entry for entry in _lines(capsys.readouterr().out) if "_aws" in entry]
    flat = [(e["ClaimsApproved"], e["ClaimsApprovedPence"]) for e in emf if "ClaimsApproved" in e]
    assert flat == [([1.0], [12345.0])] or flat == [(1, 12345)]


class _Subsegments:
    """A stand-in for the X-Ray provider: records the subsegments opened and their annotations."""

    def __init__(self):
        self.opened: list[tuple[str, dict]] = []

    class _Segment:
        def __init__(self, annotations: dict):
            self.annotations = annotations

        def put_annotation(self, key, value):
            self.annotations[key] = value

    def in_subsegment(self, name):
        import contextlib

        annotations: dict = {}
        self.opened.append((name, annotations))
        return contextlib.nullcontext(self._Segment(annotations))


def test_each_invocation_is_traced_where_tracing_is_on(api, keys, monkeypatch):
    from types import SimpleNamespace

    from chalicelib import logs

    provider = _Subsegments()
    monkeypatch.setattr(logs, "_tracer", SimpleNamespace(provider=provider))
    monkeypatch.setenv("REFPAY_TRACING", "true")
    reply = api.get("/programmes", keys["referrer"], headers={"X-Correlation-Id": "trace-me"})
    assert reply.status == 200
    assert provider.opened == [("## /programmes", {"correlation_id": "trace-me"})]


def test_without_tracing_no_tracer_is_created(api, keys, monkeypatch):
    from chalicelib import logs

    monkeypatch.setattr(logs, "_tracer", None)
    monkeypatch.delenv("REFPAY_TRACING", raising=False)
    assert api.get("/health").status == 200
    assert logs.tracer() is None
