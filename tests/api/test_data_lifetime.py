"""The data's lifetime under UK GDPR: retention per programme, the nightly erasure when it ends, the controller's
erasure request (refused with a named reason where the law does not allow it), the subject access export and the
access log of who read which participant's personal fields."""
from __future__ import annotations

import json
from datetime import date

import pytest

from tests.api.test_nightly import _night, _refer
from tests.pii import all_items, found_in, leaks

# Distinct details per NINO (the shared helpers refer everyone as the same person otherwise), so that a search
# for them cannot match anything else. The postcode is the one the helpers choose for the provider's area.
PEOPLE = {
    "JK482915B": {"given_name": "Perpetua", "family_name": "Quennell", "date_of_birth": "1987-03-09"},
    "JK482917B": {"given_name": "Ottoline", "family_name": "Brackenbury", "date_of_birth": "1979-12-02"},
}
PERSON = {"nino": "JK482915B", **PEOPLE["JK482915B"], "postcode": "LS1 4AP"}


@pytest.fixture(autouse=True)
def _distinct_people(monkeypatch):
    import tests.api.test_nightly as helpers

    real = helpers.referral_body

    def body(*args, **kwargs):
        made = real(*args, **kwargs)
        made["participant"].update(PEOPLE.get(made["participant"]["nino"], {}))
        return made

    monkeypatch.setattr(helpers, "referral_body", body)


def _as_held(api, key, rid) -> dict:
    shown = api.get(f"/referrals/{rid}", key).body["participant"]
    return {k: shown[k] for k in ("nino", "given_name", "family_name", "date_of_birth", "postcode")}


def _rejected(api, keys, monkeypatch, programme, on="2026-11-24", nino="JK482915B"):
    created, provider = _refer(api, keys, monkeypatch, programme, on, nino=nino)
    reply = api.post(f"/referrals/{created['id']}/acknowledgement", provider,
                     {"decision": "reject", "date": on, "reason": "inappropriate"})
    assert reply.status == 200, reply.body
    return created["id"], provider


def _exit(api, provider, rid, monkeypatch, on="2027-02-01"):
    monkeypatch.setenv("REFPAY_TODAY", on)
    reply = api.post(f"/referrals/{rid}/exit", provider, {
        "date": on, "reason": "withdrew", "exit_review": {"date": on, "destination": "unemployed"}})
    assert reply.status == 200, reply.body


def _participant(api, key, rid):
    return api.get(f"/referrals/{rid}", key).body["participant"]


def _no_scans(monkeypatch) -> list[str]:
    import botocore.client

    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def spy(self, operation, params):
        calls.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    return calls


def test_every_programme_states_its_retention():
    from chalicelib.adapters.rulebooks import all_rulebooks

    books = all_rulebooks()
    assert {b.retention.basis for b in books.values()} == {"programme_closure", "after_exit"}
    esf = books["esf-community-hub"].retention
    assert esf.basis == "programme_closure" and esf.until == date(2030, 12, 31) and esf.funder_mandated
    assert books["local-supported-employment"].retention.ends(date(2026, 11, 24), "ENG") == date(2028, 11, 24)


def test_the_nightly_run_erases_personal_fields_when_retention_ends_and_keeps_the_rest(api, keys, monkeypatch):
    rid, provider = _rejected(api, keys, monkeypatch, "local-supported-employment")  # kept 2 years after the end
    due = [i for i in all_items()["refpay-dev-pending-work"] if i["referral_id"]["S"] == rid]
    assert [(i["rule"]["S"], i["act_on"]["S"]) for i in due] == [("erase_personal_data", "2028-11-25")]
    _night("2028-11-24")
    assert _participant(api, provider, rid)["nino"] == "JK482915B"
    calls = _no_scans(monkeypatch)
    _night("2028-11-25")
    assert "Scan" not in calls
    shown = _participant(api, provider, rid)
    assert shown["personal_data"] == "erased" and set(shown) == {"reference", "personal_data"}
    events = api.get(f"/referrals/{rid}/events", provider).body["items"]
    assert events[-1]["type"] == "erase_personal_data" and events[-1]["data"] == {"reason": "retention_ended"}
    item = next(i for i in all_items()["refpay-dev-referrals"] if i["referral_id"]["S"] == rid)
    assert item["erased_on"]["S"] == "2028-11-25"
    assert [i for i in all_items()["refpay-dev-participants"] if i.get("referral_id", {}).get("S") == rid] == []
    assert item["status"]["S"] == "rejected" and item["participant_hash"]["S"].startswith("p_")
    assert not [i for i in all_items()["refpay-dev-pending-work"] if i["referral_id"]["S"] == rid]
    _night("2028-11-26")  # nothing left to do, nothing fails


def test_payment_lines_and_the_audit_trail_outlive_the_personal_fields(api, keys, monkeypatch):
    from tests.api.test_nightly import _lse_started, _tranches

    rid, finance = _lse_started(api, keys, monkeypatch)
    _night("2027-01-24")
    provider = keys["organisations"]["leeds-city-council"]["provider"]
    _exit(api, provider, rid, monkeypatch)
    lines = _tranches(api, finance)
    events = api.get(f"/referrals/{rid}/events", provider).body["items"]
    _night("2029-02-02")
    assert _participant(api, provider, rid)["personal_data"] == "erased"
    assert _tranches(api, finance) == lines and len(lines) == 2
    after = api.get(f"/referrals/{rid}/events", provider).body["items"]
    assert after[:-1] == events and after[-1]["type"] == "erase_personal_data"


def test_esf_records_are_kept_until_the_programme_s_closure(api, keys, monkeypatch):
    rid, provider = _rejected(api, keys, monkeypatch, "esf-community-hub")
    _night("2030-12-31")
    assert _participant(api, provider, rid)["personal_data"] == "shown"
    _night("2031-01-01")
    assert _participant(api, provider, rid)["personal_data"] == "erased"


def test_a_later_closure_date_keeps_the_records_to_it(api, keys, monkeypatch):
    from dataclasses import replace

    from chalicelib.adapters import rulebooks

    rid, provider = _rejected(api, keys, monkeypatch, "esf-community-hub")
    book = rulebooks.get_rulebook("esf-community-hub")
    later = replace(book, retention=replace(book.retention, until=date(2032, 6, 30)))
    monkeypatch.setitem(rulebooks.all_rulebooks(), "esf-community-hub", later)
    _night("2031-01-01")
    assert _participant(api, provider, rid)["personal_data"] == "shown"
    due = [i["act_on"]["S"] for i in all_items()["refpay-dev-pending-work"] if i["referral_id"]["S"] == rid]
    assert due == ["2032-07-01"]
    _night("2032-07-01")
    assert _participant(api, provider, rid)["personal_data"] == "erased"


# ------------------------------------------------------------------ the controller's erasure request


def _erase(api, key, rid, idem="er-1"):
    return api.post(f"/referrals/{rid}/erasure", key, {"reason": "the person asked"},
                    headers={"Idempotency-Key": idem})


def test_an_erasure_request_is_honoured_where_the_law_allows(api, keys, monkeypatch):
    controller = keys["admin"]  # dwp-commissioning: commissions Norfolk, Work Choice, LSE
    rid, provider = _rejected(api, keys, monkeypatch, "flexible-routeways-norfolk")
    done = _erase(api, controller, rid)
    assert done.status == 200, done.body
    assert done.body["participant"]["personal_data"] == "erased" and done.body["erased_on"] == "2026-11-24"
    assert _participant(api, provider, rid)["personal_data"] == "erased"
    again = _erase(api, controller, rid)
    assert again.status == 200 and again.headers.get("idempotent-replayed") == "true"
    assert _erase(api, controller, rid, "er-2").status == 200  # already erased: answered as it is
    events = api.get(f"/referrals/{rid}/events", provider).body["items"]
    assert [e["type"] for e in events].count("erase_personal_data") == 1
    assert events[-1]["data"] == {"reason": "controller_request"}
    # Nothing is left for the nightly run to erase.
    assert not [i for i in all_items()["refpay-dev-pending-work"] if i["referral_id"]["S"] == rid]


def test_an_erasure_request_is_refused_naming_why(api, keys, monkeypatch):
    from tests.api.test_nightly import _lse_started

    controller = keys["admin"]
    active, _ = _lse_started(api, keys, monkeypatch, nino="AB000001A")
    refused = _erase(api, controller, active, "er-active")
    assert refused.status == 409 and refused.body["reason"] == "participant_active", refused.body
    # Work Choice's funder requires the records kept 6 years after the end.
    wc, _ = _rejected(api, keys, monkeypatch, "work-choice", nino="AB000002A")
    refused = _erase(api, controller, wc, "er-wc")
    assert refused.status == 409 and refused.body["reason"] == "retention_mandated"
    assert refused.body["retained_until"] == "2032-11-24"
    # A claim awaiting payment: the person's exit leaves an approved tranche unpaid.
    _night("2027-01-24")
    leeds = keys["organisations"]["leeds-city-council"]["provider"]
    _exit(api, leeds, active, monkeypatch)
    refused = _erase(api, controller, active, "er-claim")
    finance = keys["organisations"]["leeds-city-council"]["finance"]
    unpaid = [line for line in api.get("/claims?limit=200", finance).body["items"]
              if line["referral_id"] == active and line["status"] in ("submitted", "approved")]
    assert len(unpaid) >= 2  # the start's and the tranches' lines, not yet in a paid claim file
    assert refused.status == 409 and refused.body["reason"] == "claim_open"
    assert refused.body["open_claims"] == len(unpaid)
    # Refusals change nothing.
    assert _participant(api, leeds, active)["personal_data"] == "shown"


def test_only_the_programme_s_controller_may_erase(api, keys, monkeypatch):
    rid, provider = _rejected(api, keys, monkeypatch, "flexible-routeways-norfolk")
    esf_controller = keys["organisations"]["dwp-esf"]["admin"]
    assert _erase(api, esf_controller, rid, "er-x").status == 404
    for key in (provider, keys["referrer"], keys["finance"], keys["commissioner_finance"]):
        assert _erase(api, key, rid, "er-y").status == 403
    assert _participant(api, provider, rid)["personal_data"] == "shown"


# ------------------------------------------------------------------ subject access and the access log


def test_a_subject_access_export_holds_everything_about_the_person_for_their_controller(api, keys, monkeypatch):
    from tests.api.test_nightly import _lse_started

    rid, _ = _lse_started(api, keys, monkeypatch, nino="JK482915B")
    leeds = keys["organisations"]["leeds-city-council"]["provider"]
    api.get(f"/referrals/{rid}", leeds)
    reply = api.post("/subject-access", keys["admin"], {"nino": "JK 48 29 15 B"},
                     headers={"Idempotency-Key": "sar-1"})
    assert reply.status == 200, reply.body
    [held] = reply.body["referrals"]
    assert held["referral"]["id"] == rid and held["referral"]["participant"]["nino"] == "JK482915B"
    assert [e["type"] for e in held["events"]][:2] == ["referral", "accept"]
    assert held["reference"].startswith("PR-") and "participant_hash" not in held["referral"]
    assert any(r["reader_org_id"] == "leeds-city-council" for r in reply.body["personal_data_reads"])
    # The export is itself a read of the person's data, in the access log.
    log = api.get(f"/access-log?participant={held['reference']}", keys["admin"]).body["items"]
    assert log[0]["what"] == "POST /subject-access" and log[0]["reader_org_id"] == "dwp-commissioning"
    # Another controller holds nothing about them; nobody else may ask.
    assert api.post("/subject-access", keys["organisations"]["dwp-esf"]["admin"], {"nino": "JK482915B"}).status == 404
    assert api.post("/subject-access", keys["admin"], {"nino": "JK482916B"}).status == 404
    assert api.post("/subject-access", leeds, {"nino": "JK482915B"}).status == 403
    # The idempotency record of the request holds nothing personal (the NINO was in the body).
    records = all_items()["refpay-dev-idempotency"]
    assert leaks(PERSON, {"idempotency": records}) == []


def test_every_read_of_personal_fields_is_logged_without_them(api, keys, monkeypatch):
    rid, provider = _rejected(api, keys, monkeypatch, "flexible-routeways-norfolk")
    reference = _participant(api, provider, rid)["reference"]
    api.get(f"/referrals/{rid}", keys["referrer"])
    api.get("/referrals?limit=50", keys["referrer"])
    api.get(f"/referrals/{rid}", keys["finance"])  # withheld: not a read of personal data
    api.get(f"/referrals/{rid}", keys["organisations"]["trobius"]["provider"])  # the prime: withheld
    log = api.get(f"/access-log?participant={reference}", keys["admin"])
    assert log.status == 200
    entries = log.body["items"]
    assert [(e["reader_org_id"], e["what"]) for e in entries] == [
        ("jobcentre-plus-norwich", "GET /referrals"), ("jobcentre-plus-norwich", "GET /referrals/{referral_id}"),
        ("kings-lynn-works", "GET /referrals/{referral_id}")]
    assert all(e["participant_ref"] == reference and e["referral_id"] == rid and e["reader_key_id"] for e in entries)
    assert not found_in(json.dumps(log.body), PERSON | {"postcode": "NR1 3QU"})
    assert api.get("/access-log", keys["admin"]).body["items"][:3] == entries
    # The log table holds no personal data either.
    assert leaks(PERSON, {"access-log": all_items()["refpay-dev-access-log"]}) == []
    # Another controller's log has none of it; other roles may not read it.
    assert api.get("/access-log", keys["organisations"]["dwp-esf"]["admin"]).body["items"] == []
    assert api.get("/access-log", keys["commissioner_finance"]).status == 403


# ------------------------------------------------------------------ no personal data anywhere else


@pytest.mark.parametrize("erase_by", ["request", "nightly"])
def test_pii_scan_of_every_table_and_every_log_line_after_a_full_journey(api, keys, monkeypatch, capsys, erase_by):
    from tests.api.test_nightly import _lse_started

    capsys.readouterr()
    leeds = keys["organisations"]["leeds-city-council"]["provider"]
    kept, _ = _lse_started(api, keys, monkeypatch, nino="JK482917B")
    other = _as_held(api, leeds, kept)
    if erase_by == "request":
        # Referred to Norfolk and rejected: no claim, no mandated retention, so the controller may erase.
        rid, holder = _rejected(api, keys, monkeypatch, "flexible-routeways-norfolk", nino="JK482915B")
    else:
        # Started on the trailblazer, paid tranches, exited: erased 2 years after the exit.
        rid, _ = _lse_started(api, keys, monkeypatch, nino="JK482915B")
        holder = leeds
        _night("2027-01-24")
        _exit(api, leeds, rid, monkeypatch)
    person = _as_held(api, holder, rid)
    assert person["given_name"] == "Perpetua" and other["given_name"] == "Ottoline"
    api.get("/referrals", holder)
    api.get(f"/referrals/{kept}", leeds)
    assert api.post("/subject-access", keys["admin"], {"nino": person["nino"]}).status == 200
    if erase_by == "request":
        assert _erase(api, keys["admin"], rid, "pii").status == 200
    else:
        _night("2029-02-02")
    assert _participant(api, holder, rid)["personal_data"] == "erased"
    assert _participant(api, leeds, kept)["personal_data"] == "shown"
    out, err = capsys.readouterr()
    tables = all_items()
    # Every table: the erased person is nowhere, not even encrypted; the other only inside the sealed field.
    assert leaks(person, tables) == []
    assert leaks(other, tables) == []
    sealed = [(t, i["referral_id"]["S"]) for t, items in tables.items() for i in items if "participant_sealed" in i]
    assert sealed == [("refpay-dev-participants", kept)]
    # Every log line of the run.
    assert found_in(out + err, person) == set() and found_in(out + err, other) == set()
    assert "request" in err
