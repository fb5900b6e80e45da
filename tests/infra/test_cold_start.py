"""What a cold start pays: importing the app creates no AWS client and loads no rulebook or calendar."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import app
from chalicelib.adapters import rulebooks
from chalicelib.store import files, transaction
print(json.dumps({
    "rulebooks_loaded": rulebooks._load_all.cache_info().currsize,
    "s3_clients": files._client.cache_info().currsize,
    "dynamodb_connections": transaction._connection.cache_info().currsize,
    "holidays_imported": "holidays" in sys.modules,
    "apispec_imported": "apispec" in sys.modules,
    "xray_imported": "aws_xray_sdk" in sys.modules,
    "encryption_sdk_imported": "aws_encryption_sdk" in sys.modules,
}))
"""


def test_import_app_is_lazy():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "rulebooks_loaded": 0, "s3_clients": 0, "dynamodb_connections": 0, "holidays_imported": False,
        "apispec_imported": False, "xray_imported": False,
        "encryption_sdk_imported": False}
