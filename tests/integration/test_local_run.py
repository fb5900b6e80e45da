"""`scripts/dev run` (`manage.py local`) as a new user meets it: it starts its own DynamoDB Local, the README's
walk-through works (twice in a row), every manage.py command finds the running stack with nothing set by hand,
and Ctrl-C or SIGTERM stops every process it started, Java included, quickly, even under load. Without Java it
falls back to moto, with a warning."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

from devtools.dynamodb_local import free_port

ROOT = Path(__file__).resolve().parents[2]
NINO_SHAPED = re.compile(r"\b[A-Z]{2}[0-9]{6}[A-D]\b")


def _walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough -->\s*```bash\n(.*?)```", readme, re.S)
    assert block, "README has no walkthrough block"
    return block.group(1)


def _user_env(**extra) -> dict:
    """A developer's shell: no AWS or refpay setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REFPAY_"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """`manage.py local` with its defaults (its own DynamoDB Local), on free ports, through the helper the other
    suites and the benchmarks use."""
    import manage

    workdir = tmp_path_factory.mktemp("local-run")
    with manage.local_server_process(workdir, start_timeout=120) as (port, db_port, keys_file, log):
        yield {"port": port, "db_port": db_port, "keys_file": keys_file, "log": log,
               "state_file": workdir / "stack.json"}


def _run_walkthrough(local_run) -> str:
    script = _walkthrough()
    script = script.replace("API=http://127.0.0.1:8000", f"API=http://127.0.0.1:{local_run['port']}")
    script = script.replace("KEYS=.local/demo-keys.json", f"KEYS={local_run['keys_file']}")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_local_run_is_on_dynamodb_local(local_run):
    state = json.loads(local_run["state_file"].read_text())
    assert state["engine"] == "dynamodb-local"
    assert state["dynamodb"] == f"http://127.0.0.1:{local_run['db_port']}" and state["s3"] != state["dynamodb"]
    assert "Amazon's DynamoDB Local" in local_run["log"].read_text()


def _last_month() -> str:
    return (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def test_readme_walkthrough_runs_twice_against_the_local_run(local_run):
    period = _last_month()
    outputs = [_run_walkthrough(local_run), _run_walkthrough(local_run)]
    ids = []
    for out in outputs:
        assert '"id": "flexible-routeways-norfolk"' in out and '"referrals_open": true' in out
        found = re.search(r"^referral (ref_[0-9a-f]{20})$", out, re.M)
        assert found, out
        ids.append(found.group(1))
        for state in ("accepted", "started", "assessed", "in_support", "in_work"):
            assert re.search(rf"^{state}$", out, re.M), state
        assert '"rule": "review"' in out and '"job_start"' in out and '"status": "in_work"' in out
        # Last month's claim file, polled until ready, came down from S3 (moto): the demo history's four starts
        # (4 x GBP 157.50) and the Level 1 group's referral fee (GBP 35), not this month's lines.
        assert f'"id": "cf-flexible-routeways-norfolk-{period}-trobius"' in out
        assert '"status": "ready"' in out and '"line_count": 5' in out and '"total_gbp": "665.00"' in out
        csv_part = out.split("line_id,referral_id,participant_ref,", 1)[1]
        assert csv_part.count(",level-3-delivery,") == 4 and csv_part.count(",level-1-referral,") == 1
        assert not NINO_SHAPED.search(out), "a National Insurance number was printed"
    assert ids[0] != ids[1], "the second run referred the same person again"
    # Neither run's lines are in last month's file: they wait for this month's.
    assert not any(rid in out.split("line_id,", 1)[1] for rid in ids for out in outputs)
    # The server's logs carry no personal data from the walk-through.
    logs = local_run["log"].read_text()
    for personal in ("Jones", "1990-05-17", "PE30 1EX"):
        assert personal not in logs
    assert not NINO_SHAPED.search(logs)


def test_readme_chain_walkthrough_runs_against_the_local_run(local_run):
    """The README's delivery chain with the demo's chain-member keys: a Level 1 group refers to Trobius, which
    routes; the group's finance sees its GBP 35; a Level 2 group refers, mentors and claims, its own finance is
    refused the approval and Trobius's approves; DWP sees the VCS share. Then last month's money goes down the
    chain: DWP samples, checks and pays Trobius's file, Trobius passes the group's fee on, and the group sees both
    dates; run again, every write replays its first answer (nothing is paid twice)."""
    readme = (ROOT / "README.md").read_text()
    prelude = _walkthrough().split("\n\n# The programme's rules", 1)[0]  # the variables and helpers
    blocks = re.findall(r"<!-- chain walkthrough -->\s*```bash\n(.*?)```", readme, re.S)
    assert len(blocks) == 3, "README has no chain walkthrough"
    script = "\n".join([prelude, *blocks, blocks[2]])  # the money's block twice: the second run replays
    script = script.replace("API=http://127.0.0.1:8000", f"API=http://127.0.0.1:{local_run['port']}")
    script = script.replace("KEYS=.local/demo-keys.json", f"KEYS={local_run['keys_file']}")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"role": "deliverer"' in out and '"org_id": "great-yarmouth-works"' in out
    assert re.search(r"^accepted$", out, re.M) and re.search(r"^started$", out, re.M)
    assert '"level-1-referral",\n    "referrer",\n    3500' in out
    assert re.search(r"^segregation_of_duties$", out, re.M) and re.search(r"^approved$", out, re.M)
    assert '"chain_levels": [' in out and re.search(r'"referred_by_vcs": [1-9]', out)
    # Trobius's file for last month: King's Lynn Works' four starts less the prime's 10%, the group's GBP 35 whole.
    money = out.split('"kings-lynn-works",\n    63000,\n    6300', 1)
    assert len(money) == 2 and '"norfolk-community-links",\n    3500,\n    0' in money[1], out
    period, paid_on = _last_month(), date.today().isoformat()
    # Run twice, the block shows the same answers: one payment, one pass-through, both dated today.
    assert out.count('"paid_pence": 66500') == 2 and out.count(f'"paid_on": "{paid_on}"') == 2
    passes = re.findall(r"^(pt_[0-9a-f]+)$", out, re.M)
    assert len(passes) == 2 and passes[0] == passes[1], out
    seen = out.rsplit('"org_id": "norfolk-community-links"', 1)[1]
    for field, value in (("owed_pence", "3500"), ("passed_pence", "3500"), ("outstanding_pence", "0"),
                         ("commissioner_paid_on", f'"{paid_on}"'), ("settled_on", f'"{paid_on}"'),
                         ("days_to_pass_through", "0"), ("late", "false")):
        assert f'"{field}": {value}' in seen, (field, seen)
    assert f'"seed": "sample-{period}"' in out  # last month's file was the one sampled
    assert not NINO_SHAPED.search(out), "a National Insurance number was printed"


def _manage(local_run, *args) -> subprocess.CompletedProcess:
    env = _user_env(REFPAY_LOCAL_STACK_FILE=str(local_run["state_file"]))
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_manage_commands_use_the_running_stack_with_nothing_set(local_run, tmp_path):
    made = _manage(local_run, "create-org", "acme-prime", "Acme Employment", "prime")
    assert made.returncode == 0, made.stderr
    assert "using the local stack" in made.stderr and json.loads(made.stdout)["org_id"] == "acme-prime"
    key = _manage(local_run, "create-key", "acme-prime", "--roles", "referrer", "--label", "test")
    assert key.returncode == 0, key.stderr
    secret = json.loads(key.stdout)["api_key"]
    # The key was written where the running API reads: it is accepted there.
    request = urllib.request.Request(f"http://127.0.0.1:{local_run['port']}/referrals",
                                     headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200 and json.load(reply)["items"] == []

    nightly = _manage(local_run, "nightly", "--date", date.today().isoformat())
    assert nightly.returncode == 0, nightly.stderr
    assert json.loads(nightly.stdout)["shards_done"] == 32

    _run_walkthrough(local_run)  # makes sure last month's claim file exists, whichever test ran first
    file_id = f"cf-flexible-routeways-norfolk-{_last_month()}-trobius"
    out = tmp_path / "claims.csv"
    exported = _manage(local_run, "export-claim-file", file_id, "--out", str(out), "--quiet")
    assert exported.returncode == 0, exported.stderr
    result = json.loads(exported.stdout)
    # The demo history's four starts and the Level 1 group's referral fee.
    assert result["matches_recorded_total"] is True and result["lines"] == 5
    assert out.read_text().startswith("line_id,referral_id,participant_ref,")


def test_the_rule_leaves_a_named_aws_alone(local_run):
    from devtools.local_stack import use_running_stack

    for named in ({"AWS_PROFILE": "prod"}, {"AWS_ACCESS_KEY_ID": "AKIA..."},
                  {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1"}):
        environ = dict(named)
        assert use_running_stack(environ, local_run["state_file"]) is None and environ == named
    environ = {}
    state = use_running_stack(environ, local_run["state_file"])
    assert state is not None and environ["AWS_ENDPOINT_URL_DYNAMODB"] == state["dynamodb"]
    assert environ["REFPAY_STAGE"] == "dev" and environ["AWS_ENDPOINT_URL_S3"] == state["s3"]
    # A state file whose stack is gone is ignored.
    stale = local_run["state_file"].with_name("stale.json")
    stale.write_text(json.dumps({**state, "pid": 2 ** 22 + 1}))
    assert use_running_stack({}, stale) is None


# ------------------------------------------------------------------------------------------- stopping


def _start(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, int, Path, Path]:
    """`manage.py local` as `scripts/dev run` starts it, in its own process group (as in a terminal)."""
    port = free_port()
    state_file, log = tmp_path / "stack.json", tmp_path / "server.log"
    command = [sys.executable, "manage.py", "local", "--port", str(port), "--db-port", str(free_port()),
               "--s3-port", str(free_port()), "--keys-file", str(tmp_path / "keys.json"),
               "--state-file", str(state_file), *args]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env or _user_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("local run did not start:\n" + log.read_text())
        time.sleep(0.3)
    return proc, port, state_file, log


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _stop_and_check(proc: subprocess.Popen, how: int, state_file: Path) -> tuple[int, float]:
    """Signal the whole group as a terminal does; returns (exit status, seconds until every process was gone)."""
    state = json.loads(state_file.read_text())
    children = [pid for pid in (state["api_pid"], state["dynamodb_pid"]) if pid]
    assert all(_alive(pid) for pid in children)
    started = time.monotonic()
    os.killpg(proc.pid, how)
    try:
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    while any(_alive(pid) for pid in children) and time.monotonic() - started < 30:
        time.sleep(0.02)
    took = time.monotonic() - started
    assert not [pid for pid in children if _alive(pid)], "a process of the local run outlived it"
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing at all is left in its process group
    assert not state_file.exists()
    return status, took


def test_sigterm_under_load_stops_everything_within_3_seconds(tmp_path):
    proc, port, state_file, log = _start(tmp_path)
    keys = json.loads((tmp_path / "keys.json").read_text())
    stop, created = threading.Event(), []

    def client(worker: int):
        n = 0
        while not stop.is_set() and n < 400:
            n += 1
            nino = f"JT{worker:02d}{n:04d}{'ABCD'[n % 4]}"
            body = {"programme_id": "flexible-routeways-norfolk", "provider_id": ["trobius", "kings-lynn-works"][n % 2],
                    "support_level": "standard", "consent": {"given": True, "date": date.today().isoformat()},
                    "participant": {"nino": nino, "given_name": "Ada", "family_name": "Lovelace",
                                    "date_of_birth": "1990-05-17", "postcode": "NR1 3QU",
                                    "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False}}}
            request = urllib.request.Request(f"http://127.0.0.1:{port}/referrals", data=json.dumps(body).encode(),
                                             method="POST", headers={"Authorization": f"Bearer {keys['referrer']}",
                                                                     "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as reply:
                    created.append(reply.status)
            except (urllib.error.URLError, OSError):
                pass

    clients = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(8)]
    for t in clients:
        t.start()
    time.sleep(10)  # eight clients busy for ten seconds; still sending when the signal comes
    assert len(created) > 20, log.read_text()[-3000:]
    status, took = _stop_and_check(proc, signal.SIGTERM, state_file)
    stop.set()
    for t in clients:
        t.join(30)
    assert status == 0, log.read_text()[-3000:]
    assert took < 3, f"stopping took {took:.1f} s"


def test_ctrl_c_stops_everything(tmp_path):
    proc, _port, state_file, log = _start(tmp_path)
    status, took = _stop_and_check(proc, signal.SIGINT, state_file)
    assert status in (0, 130), log.read_text()[-3000:]
    assert took < 3, f"stopping took {took:.1f} s"
    assert "Traceback" not in log.read_text()


def test_without_java_the_local_run_falls_back_to_moto_with_a_warning(tmp_path):
    # A PATH with this Python's folder only: no java, and no JAVA_HOME.
    env = {k: v for k, v in _user_env().items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)
    proc, port, state_file, log = _start(tmp_path, env=env)
    assert json.loads(state_file.read_text())["engine"] == "moto"
    text = log.read_text()
    assert "WARNING" in text and "needs Java" in text and "moto" in text
    keys = json.loads((tmp_path / "keys.json").read_text())
    request = urllib.request.Request(f"http://127.0.0.1:{port}/programmes/flexible-routeways-norfolk",
                                     headers={"Authorization": f"Bearer {keys['referrer']}"})
    with urllib.request.urlopen(request, timeout=30) as reply:  # the demo data is served on the fallback too
        assert reply.status == 200 and json.load(reply)["id"] == "flexible-routeways-norfolk"
    status, took = _stop_and_check(proc, signal.SIGTERM, state_file)
    assert status == 0 and took < 3


def test_asking_for_dynamodb_local_without_java_stops_with_the_reason(tmp_path):
    env = {k: v for k, v in _user_env().items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)
    done = subprocess.run([sys.executable, "manage.py", "local", "--engine", "dynamodb-local", "--port",
                           str(free_port()), "--state-file", str(tmp_path / "stack.json")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert "needs Java" in done.stderr and "openjdk-17-jre-headless" in done.stderr
    assert not (tmp_path / "stack.json").exists()
