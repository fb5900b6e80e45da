"""Personal fields are stored encrypted under the KMS key, the duplicate look-up uses a keyed hash, and the
idempotency records hold no personal data at all."""
from __future__ import annotations

import json

import pytest

from tests.conftest import referral_body
from tests.pii import all_items, leaks, text_of

PERSON = {"nino": "JK482915B", "given_name": "Perpetua", "family_name": "Quennell", "date_of_birth": "1987-03-09",
          "postcode": "NR2 4TZ"}


def _refer(api, keys, person=PERSON, key="enc-1"):
    body = referral_body()
    body["participant"].update(person)
    created = api.post("/referrals", keys["referrer"], body, headers={"Idempotency-Key": key})
    assert created.status == 201, created.body
    return created


def _journey(api, keys, rid):
    provider = keys["provider"]
    for path, payload in [("acknowledgement", {"decision": "accept", "date": "2026-11-24"}),
                          ("start", {"date": "2026-11-24"}), ("assessments", {"date": "2026-11-24"})]:
        reply = api.post(f"/referrals/{rid}/{path}", provider, payload, headers={"Idempotency-Key": f"{rid}-{path}"})
        assert reply.status in (200, 201), reply.body


def _sealed_items(tables: dict) -> dict[str, dict]:
    """The referrals' sealed personal fields, by referral: items of their own beside the people's records."""
    return {i["referral_id"]["S"]: i for i in tables["refpay-dev-participants"]
            if i["participant_hash"]["S"].startswith("sealed#")}


def test_no_table_holds_a_personal_field_in_plain_text_and_the_api_still_shows_them(api, keys):
    created = _refer(api, keys)
    rid = created.body["id"]
    _journey(api, keys, rid)
    assert created.body["participant"]["nino"] == PERSON["nino"]
    tables = all_items()
    assert leaks(PERSON, tables) == []
    item = next(i for i in tables["refpay-dev-referrals"] if i["referral_id"]["S"] == rid)
    assert "participant" not in item and "participant_sealed" not in item  # the sealed fields are an item apart
    assert "B" in _sealed_items(tables)[rid]["participant_sealed"]
    # The roles that work with the person still read the fields, decrypted.
    shown = api.get(f"/referrals/{rid}", keys["provider"]).body["participant"]
    assert {k: shown[k] for k in PERSON} == PERSON


def test_the_idempotency_records_hold_nothing_personal_only_which_resource(api, keys):
    created = _refer(api, keys, key="enc-idem")
    _journey(api, keys, created.body["id"])
    records = all_items()["refpay-dev-idempotency"]
    assert len(records) == 4
    allowed = {"scope_key", "fingerprint", "status_code", "resource_kind", "resource_ids", "location", "created_at",
               "expires_at"}
    for record in records:
        assert set(record) <= allowed, set(record) - allowed
        assert leaks(PERSON, {"idempotency": [record]}) == []
    # The request's fingerprint is keyed: a plain SHA-256 of the body would confirm a guess of who it named.
    import hashlib

    body = referral_body()
    body["participant"].update(PERSON)
    target = json.dumps(["POST", "/referrals", {}], sort_keys=True).encode()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    unkeyed = hashlib.sha256(target + b"\n" + canonical).hexdigest()
    first = next(r for r in records if r["scope_key"]["S"].endswith("#enc-idem"))
    assert len(first["fingerprint"]["S"]) == 64 and first["fingerprint"]["S"] != unkeyed
    # The replay renders the referral as it is now, from the referrals table.
    again = _refer(api, keys, key="enc-idem")
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.body["participant"]["nino"] == PERSON["nino"]


def test_the_sealed_fields_are_a_kms_envelope_bound_to_their_referral(api, keys):
    import aws_encryption_sdk
    import boto3
    from aws_encryption_sdk.identifiers import CommitmentPolicy

    from chalicelib.store import sealing

    first = _refer(api, keys).body["id"]
    other = dict(PERSON, nino="JK482916B", given_name="Octavia")
    second = _refer(api, keys, other, key="enc-2").body["id"]
    sealed = _sealed_items(all_items())[first]["participant_sealed"]["B"]

    # The data key is encrypted under the stage's KMS key: with that key (and nothing else) the message opens.
    arn = boto3.client("kms").describe_key(KeyId=sealing.local_alias("dev"))["KeyMetadata"]["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    plaintext, header = client.decrypt(source=sealed, key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[arn]))
    assert [k.key_provider.key_info.decode() for k in header.encrypted_data_keys] == [arn]
    assert header.encryption_context["purpose"] == "refpay-personal-fields"
    assert PERSON["nino"].encode() in plaintext

    # Copied onto another referral, it does not open there.
    assert sealing.open_sealed(first, sealed)["nino"] == PERSON["nino"]
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(second, sealed)
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(first, sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_without_the_kms_key_nothing_opens(api, keys, monkeypatch):
    import boto3

    from chalicelib.store import sealing

    rid = _refer(api, keys).body["id"]
    sealed = _sealed_items(all_items())[rid]["participant_sealed"]
    assert sealing.open_sealed(rid, sealed["B"])["family_name"] == PERSON["family_name"]
    another = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv("REFPAY_KMS_KEY_ID", another)
    sealing.forget_data_keys()  # a new container: no data key cached
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(rid, sealed["B"])
    assert api.get(f"/referrals/{rid}", keys["provider"]).status == 500


def test_the_duplicate_look_up_is_a_keyed_hash_of_the_nino(api, keys, monkeypatch):
    from chalicelib import settings
    from chalicelib.domain.participants import participant_hash

    _refer(api, keys)
    people = [p for p in all_items()["refpay-dev-participants"] if "participant_sealed" not in p]
    assert [p["participant_hash"]["S"] for p in people] == [participant_hash(PERSON["nino"],
                                                                            settings.get().participant_key)]
    assert "JK482915" not in text_of(people[0])
    # Another key gives another hash: without the secret the table's keys say nothing about a NINO.
    assert participant_hash(PERSON["nino"], b"x" * 32) != people[0]["participant_hash"]["S"]
    # The same person referred again is found by that hash (and refused as active).
    body = referral_body()
    body["participant"].update(PERSON, nino="jk 48 29 15 b")
    assert api.post("/referrals", keys["referrer"], body).status == 422


def test_a_deployed_stage_without_the_kms_key_does_not_start(monkeypatch):
    from chalicelib import settings

    env = {"REFPAY_STAGE": "prod", "REFPAY_PARTICIPANT_HASH_KEY": "h" * 40, "REFPAY_CURSOR_KEY": "c" * 40}
    with pytest.raises(settings.SettingsError, match="REFPAY_KMS_KEY_ID"):
        settings.load(env).require_deployable()
    assert settings.load({**env, "REFPAY_KMS_KEY_ID": "arn:aws:kms:eu-west-2:1:key/k"}).require_deployable()


def test_priority_groups_are_drawn_from_the_sealed_answers_and_never_stored_beside_the_referral(api, keys):
    """A person's priority groups (here a learning disability, autism and a long-term mental health condition:
    special category data) are
    shown with their personal fields, drawn each time from the sealed eligibility answers: no table holds them. A
    referral written by a version that kept them in plain text is read as before and loses them at its next
    write."""
    from chalicelib.store.transaction import low_level_client

    book = api.get("/programmes/local-supported-employment", keys["referrer"]).body
    body = referral_body(programme_id="local-supported-employment", provider_id="leeds-city-council",
                         support_level=list(book["rulebook"]["support_levels"])[0], nino="JK482916B")
    body["participant"]["eligibility"] = {**body["participant"]["eligibility"], "learning_disability": True,
                                          "autism": True, "long_term_mental_health": True}
    created = api.post("/referrals", keys["referrer"], body)
    assert created.status == 201, created.body
    rid, groups = created.body["id"], created.body["priority_groups"]
    assert groups == ["learning_disability", "autism", "long_term_mental_health"]
    text = text_of(all_items())
    assert not [g for g in groups if f'"{g}"' in text], text
    leeds = keys["organisations"]["leeds-city-council"]["provider"]
    assert api.get(f"/referrals/{rid}", leeds).body["priority_groups"] == groups
    # As an earlier version left it: the codes in plain text on the referral.
    client, table = low_level_client(), "refpay-dev-referrals"
    client.update_item(TableName=table, Key={"referral_id": {"S": rid}},
                       UpdateExpression="SET priority_groups = :g",
                       ExpressionAttributeValues={":g": {"L": [{"S": g} for g in groups]}})
    assert api.get(f"/referrals/{rid}", leeds).body["priority_groups"] == groups  # read as before
    reply = api.post(f"/referrals/{rid}/acknowledgement", leeds, {"decision": "accept", "date": "2026-11-24"})
    assert reply.status == 200, reply.body
    item = client.get_item(TableName=table, Key={"referral_id": {"S": rid}}, ConsistentRead=True)["Item"]
    assert "priority_groups" not in item
