"""What encrypting personal fields costs a request, as ratios measured in one run (moto's KMS and DynamoDB).

    .venv/bin/python bench/encryption.py [--runs 300]

Compares, per referral: turning it into its item and back with the personal fields sealed and opened (a warm
container, data key cached) against the same with them as plain JSON (what the store did before); the first
seal and open of a new container (one KMS GenerateDataKey and one Decrypt) against a warm one; and a whole
GET /referrals/{id} round trip against the mapping alone. The cold-start cost of importing the Encryption SDK is
in bench/cold_start.py.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE"):
    os.environ.pop(name, None)
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="eu-west-2",
                  REFPAY_STAGE="dev", REFPAY_LOG_LEVEL="WARNING", REFPAY_TODAY="2026-11-24")


def timed(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    from moto import mock_aws

    with mock_aws():
        from chalice.test import Client

        import app as application
        from chalicelib.services.admin import seed_demo
        from chalicelib.store import repository, sealing
        from chalicelib.store.files import create_bucket
        from chalicelib.store.tables import create_tables

        create_tables("dev")
        create_bucket()
        keys = seed_demo()
        from tests.conftest import referral_body

        with Client(application.app, stage_name="dev") as client:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {keys['referrer']}"}
            created = client.http.post("/referrals", headers=headers, body=json.dumps(referral_body()))
            rid = json.loads(created.body)["id"]
            referral = repository.get_referral(rid)
            assert referral is not None
            item, sealed = repository.to_item(referral), repository.sealed_item(referral)
            plain = json.dumps(asdict(referral.participant), default=str)

            sealed_round_trip = timed(lambda: repository.to_referral(repository.to_item(referral),
                                                                     repository.sealed_item(referral)), args.runs)
            plain_round_trip = timed(lambda: (json.loads(json.dumps(asdict(replace(referral)), default=str)),
                                              json.loads(plain)), args.runs)

            def cold() -> None:
                sealing.forget_data_keys()
                sealing.open_sealed(rid, sealing.seal(rid, {"nino": "x"}))

            cold_seal_open = timed(cold, max(20, args.runs // 10))
            warm_seal_open = timed(lambda: sealing.open_sealed(rid, sealing.seal(rid, {"nino": "x"})), args.runs)
            get = timed(lambda: client.http.get(f"/referrals/{rid}", headers=headers), max(20, args.runs // 10))
            assert sealed is not None and sealed.participant_sealed and item.referral_id == rid

    print(f"{'comparison':62}{'ratio':>8}")
    rows = [
        ("item mapping, sealed vs plain JSON (warm container)", sealed_round_trip / plain_round_trip),
        ("seal + open, new container (KMS calls) vs warm (cached key)", cold_seal_open / warm_seal_open),
        ("GET /referrals/{id} vs the sealed item mapping alone", get / sealed_round_trip),
    ]
    for name, ratio in rows:
        print(f"{name:62}{ratio:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
