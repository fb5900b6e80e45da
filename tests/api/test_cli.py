"""The command line creates organisations and keys that the API then accepts."""
from __future__ import annotations

import json

import manage


def test_create_org_and_key_then_call_the_api(api, capsys):
    assert manage.main(["create-org", "acme-prime", "Acme Employment", "prime"]) == 0
    assert manage.main(["create-org", "acme-sub", "Acme Hub", "subcontractor", "--prime", "acme-prime",
                        "--level", "3"]) == 0
    capsys.readouterr()
    assert manage.main(["create-key", "acme-sub", "--roles", "provider,finance", "--label", "cms"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["org_id"] == "acme-sub" and printed["api_key"].startswith("rp_")
    reply = api.get("/referrals", printed["api_key"])
    assert reply.status == 200 and reply.body["items"] == []
    # Only the hash is stored.
    from chalicelib.domain.access import hash_key
    from chalicelib.store.models import ApiKey

    item = ApiKey.get(hash_key(printed["api_key"]))
    assert item.org_id == "acme-sub" and item.roles == ["finance", "provider"]
    assert printed["api_key"] not in json.dumps(item.attribute_values)


def test_cli_refuses_bad_input(aws, capsys):
    assert manage.main(["create-org", "Bad Id!", "X", "prime"]) == 2
    assert manage.main(["create-org", "lonely-sub", "X", "subcontractor", "--prime", "missing"]) == 2
    assert manage.main(["create-key", "nobody", "--roles", "provider"]) == 2
    manage.main(["create-org", "real-org", "X", "referrer"])
    assert manage.main(["create-key", "real-org", "--roles", "superuser"]) == 2
    assert manage.main(["create-org", "real-org", "X", "referrer"]) == 2
    err = capsys.readouterr().err
    assert "existing_prime" in err and "already exists" in err
