"""Cold start: the time to `import app` (what a new Lambda container pays before the first request) against
`import boto3` alone, measured in one run, each in a fresh interpreter.

    .venv/bin/python bench/cold_start.py [--runs 15]

Clients and rulebooks are created lazily, on first use, so importing the app should cost little more than
importing the libraries it is built on. The last two cases measure what the first requests of a new container pay
on top for DynamoDB: a client for every model (every table), made once through the shared session
(chalicelib/store/connection.py), against one session and client per model as PynamoDB makes them by default.
No request is sent (the credentials are dummies from the environment, as Lambda gives real ones).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_MODELS = ("from chalicelib.store import models; "
           "tables = [m for m in vars(models).values() if isinstance(m, type) and issubclass(m, models.SharedModel) "
           "and m is not models.SharedModel]; ")
CASES = {
    "python (nothing)": "pass",
    "import boto3": "import boto3",
    "import app": "import app",
    "import app + first rulebook load": "import app; from chalicelib.adapters.rulebooks import all_rulebooks; all_rulebooks()",
    # What the first read or write of personal fields adds (imported then, not at cold start)
    "import app + encryption SDK": "import app; import aws_encryption_sdk",
    "import app + every model's client": "import app; " + _MODELS + "[m._get_connection().connection.client "
                                         "for m in tables]",
    "  the same, a session per model": "import app; from pynamodb.models import Model; " + _MODELS +
                                       "[Model._get_connection.__func__(m).connection.client for m in tables]",
}
ENV = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
       "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-2")}


def once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, check=True)
    return (time.perf_counter() - start) * 1000


def measure(runs: int) -> dict[str, list[float]]:
    """Every case once per round, the rounds one after the other: a change in the machine's load or caches during
    the run falls on every case alike, so the ratios compare like with like (measuring one case's runs, then the
    next's, gave `import app` against `import boto3` anywhere from 1.0x to 1.35x from one run to the next)."""
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):
        for name, code in CASES.items():
            times[name].append(once(code))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results = measure(args.runs)
    base = statistics.median(results["python (nothing)"])
    boto = statistics.median(results["import boto3"]) - base
    print(f"{'case':36}{'median ms':>10}{'p90 ms':>9}{'over python':>13}{'vs boto3':>10}")
    for name, times in results.items():
        median = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        extra = median - base
        ratio = f"{extra / boto:.2f}x" if name != "python (nothing)" and boto > 0 else ""
        print(f"{name:36}{median:>10.0f}{p90:>9.0f}{extra:>13.0f}{ratio:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
