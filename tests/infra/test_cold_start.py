"""What a cold start pays: importing the app creates no AWS client, loads no rulebook or calendar and imports none
of the libraries only a request needs; once running, every model and transaction shares one botocore session."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Libraries `import app` must not import: each is loaded by the first request (or job) that needs it.
NOT_AT_IMPORT = ("marshmallow", "apispec", "holidays", "aws_lambda_powertools", "aws_xray_sdk", "boto3", "botocore",
                 "pynamodb", "aws_encryption_sdk")

PROBE = """
import json, sys
import app
from chalicelib.adapters import rulebooks
from chalicelib.store import files
print(json.dumps({
    "rulebooks_loaded": rulebooks._load_all.cache_info().currsize,
    "s3_clients": files._client.cache_info().currsize,
    "imported": sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[1:])),
}))
"""


def test_import_app_is_lazy():
    out = subprocess.run([sys.executable, "-c", PROBE, *NOT_AT_IMPORT], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"rulebooks_loaded": 0, "s3_clients": 0, "imported": []}


def test_the_probe_sees_a_library_that_is_imported():
    """The probe itself can fail: a library imported beside the app is reported."""
    code = PROBE.replace("import app\n", "import app\nimport marshmallow, boto3\n")
    out = subprocess.run([sys.executable, "-c", code, *NOT_AT_IMPORT], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["imported"] == ["boto3", "botocore", "marshmallow"]


@pytest.fixture
def counted(aws, monkeypatch):
    """Every botocore session and DynamoDB client made from here on, starting from a container that has made
    none (the shared connection forgotten)."""
    import botocore.session

    from chalicelib.store import connection

    connection.reset()
    made: dict[str, list] = {"sessions": [], "dynamodb_clients": []}
    init, create_client = botocore.session.Session.__init__, botocore.session.Session.create_client

    def counting_init(self, *args, **kwargs):
        made["sessions"].append(self)
        init(self, *args, **kwargs)

    def counting_client(self, service_name, *args, **kwargs):
        client = create_client(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            made["dynamodb_clients"].append(client)
        return client

    monkeypatch.setattr(botocore.session.Session, "__init__", counting_init)
    monkeypatch.setattr(botocore.session.Session, "create_client", counting_client)
    yield made
    connection.reset()


def test_every_model_and_the_transactions_share_one_botocore_session_and_client(counted):
    from pynamodb.models import Model

    from chalicelib.store import models
    from chalicelib.store.transaction import Transaction

    def organisation(n: int) -> None:
        models.OrganisationItem(org_id=f"org-{n}", name="An organisation", kind="prime",
                                created_at="2026-11-24T09:00:00Z").save()
        models.OrganisationItem.get(f"org-{n}")

    def key(n: int) -> None:
        models.ApiKey(key_hash=f"hash-{n}", key_id=f"key-{n}", org_id=f"org-{n}", roles=["provider"], label="t",
                      created_at="2026-11-24T09:00:00Z").save()

    def reads(n: int) -> None:
        list(models.ReferralEventItem.query(f"referral-{n}"))
        list(models.PaymentLineItem.by_referral.query(f"referral-{n}"))
        list(models.FlagItem.by_referral.query(f"referral-{n}"))

    # The first calls of a cold container, in parallel (as the claim-file worker's threads make them)
    with ThreadPoolExecutor(max_workers=6) as pool:
        for future in [pool.submit(work, n) for n in range(6) for work in (organisation, key, reads)]:
            future.result()
    tx = Transaction()
    tx.put(models.OrganisationItem(org_id="org-tx", name="Another", kind="prime", created_at="2026-11-24T09:00:00Z"))
    tx.check(models.ApiKey, "hash-1", condition=models.ApiKey.key_hash.exists())
    tx.commit()
    assert models.OrganisationItem.get("org-tx").name == "Another"

    assert len(counted["sessions"]) == 1
    assert len(counted["dynamodb_clients"]) == 1
    tables = [m for m in vars(models).values() if isinstance(m, type) and issubclass(m, Model)
              and m not in (Model, models.SharedModel)]
    assert len(tables) > 10 and all(issubclass(m, models.SharedModel) for m in tables)
    assert len({id(m._get_connection().connection.client) for m in tables}) == 1
    assert len(counted["sessions"]) == 1
