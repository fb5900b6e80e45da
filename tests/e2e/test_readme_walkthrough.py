"""Started as a new user would: `manage.py local` serves the API and the README's walk-through works."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough -->\s*```bash\n(.*?)```", readme, re.S)
    assert block, "README has no walkthrough block"
    return block.group(1)


@pytest.fixture
def local_server(tmp_path):
    import manage

    with manage.local_server_process(tmp_path, start_timeout=60) as (port, _db_port, keys_file, log):
        yield port, keys_file, log


def test_readme_walkthrough_runs_against_the_local_server(local_server):
    port, keys_file, server_log = local_server
    script = _walkthrough()
    script = script.replace("API=http://127.0.0.1:8000", f"API=http://127.0.0.1:{port}")
    script = script.replace("KEYS=.local/demo-keys.json", f"KEYS={keys_file}")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"id": "flexible-routeways-norfolk"' in out and '"referrals_open": true' in out
    assert re.search(r"referral ref_[0-9a-f]{20}", out)
    for state in ("accepted", "started", "assessed", "in_support", "in_work"):
        assert re.search(rf"^{state}$", out, re.M), state
    assert '"rule": "review"' in out and '"job_start"' in out and '"status": "in_work"' in out
    # The claim file came down from the embedded S3 and holds the start and job lines (157.50 + 367.50).
    assert '"total_gbp": "525.00"' in out
    assert re.search(r"^line_id,referral_id,participant_ref,", out, re.M)
    assert out.count(",level-3-delivery,") == 2 and "AB123456C" not in out
    # The server's logs carry no personal data from the walk-through.
    logs = server_log.read_text()
    for personal in ("AB123456C", "Jones", "1990-05-17", "PE30 1EX"):
        assert personal not in logs
