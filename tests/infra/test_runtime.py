"""The Lambda runtime every function is packaged with stays at least 12 months from its deprecation.

infra/runtime.json keeps the runtime and its dates, taken from the pinned cfn-lint's runtime data; the check
uses the real current date (not REFPAY_TODAY), so it starts failing by itself when the time comes.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

from dateutil.relativedelta import relativedelta

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = json.loads((ROOT / "infra" / "runtime.json").read_text())
MONTHS_OF_NOTICE = 12


def cfn_lint_lifecycle() -> dict:
    return json.loads(resources.files("cfnlint").joinpath("data/AdditionalSpecs/LmbdRuntimeLifecycle.json").read_text())


def too_close_to_deprecation(runtime: dict, today: date) -> str | None:
    """Why a runtime should not be packaged any more on `today`, or None while it has 12 months or more left."""
    deprecated = date.fromisoformat(runtime["deprecated"])
    if today + relativedelta(months=MONTHS_OF_NOTICE) >= deprecated:
        return (f"{runtime['runtime']} is deprecated on {deprecated} (creating functions blocked from "
                f"{runtime['create_block']}): less than {MONTHS_OF_NOTICE} months from {today}; move to a newer runtime")
    return None


def test_every_packaged_function_and_the_layer_use_the_runtime(packaged):
    resources_ = packaged.template["Resources"]
    runtimes = {name: r["Properties"]["Runtime"] for name, r in resources_.items()
                if r["Type"] == "AWS::Serverless::Function"}
    assert runtimes == dict.fromkeys(["APIHandler", "ApiKey", "NightlyCompliance", "NightlyShard",
                                             "ClaimFileWorker"], RUNTIME["runtime"])
    assert resources_["ManagedLayer"]["Properties"]["CompatibleRuntimes"] == [RUNTIME["runtime"]]


def test_the_runtime_is_at_least_12_months_from_deprecation_today():
    assert too_close_to_deprecation(RUNTIME, datetime.now(UTC).date()) is None


def test_the_check_refuses_a_runtime_within_12_months():
    lifecycle = cfn_lint_lifecycle()
    python311 = {"runtime": "python3.11", "deprecated": lifecycle["python3.11"]["deprecated"],
                 "create_block": lifecycle["python3.11"]["create-block"]}
    # The runtime the template shipped with before: seven months left when checked on 2026-11-30.
    assert "python3.11 is deprecated on 2027-06-30" in too_close_to_deprecation(python311, date(2026, 11, 30))
    # Ours, one day inside and one day outside the notice period.
    deprecated = date.fromisoformat(RUNTIME["deprecated"])
    assert too_close_to_deprecation(RUNTIME, deprecated - relativedelta(months=12)) is not None
    assert too_close_to_deprecation(RUNTIME, deprecated - relativedelta(months=12, days=1)) is None


def test_the_dates_are_the_pinned_cfn_lint_s():
    """runtime.json cites cfn-lint's bundled data: the same version as pinned, the same dates as it holds."""
    entry = cfn_lint_lifecycle()[RUNTIME["runtime"]]
    assert {k: RUNTIME[k.replace("-", "_")] for k in ("deprecated", "create-block", "update-block")} == {
        k: entry[k] for k in ("deprecated", "create-block", "update-block")}
    pin = re.search(r"^cfn-lint==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.M).group(1)
    assert RUNTIME["source"]["package"] == f"cfn-lint=={pin}"
    assert RUNTIME["source"]["file"] == "cfnlint/data/AdditionalSpecs/LmbdRuntimeLifecycle.json"


def test_the_python_that_builds_and_packages_is_the_runtime_s():
    """Chalice takes the runtime from the interpreter that packages: scripts/dev must pick that Python."""
    minor = re.search(r"^PYTHON_MINOR=(\S+)$", (ROOT / "scripts" / "dev").read_text(), re.M).group(1)
    assert RUNTIME["runtime"] == f"python{minor}"
