"""The quality gates `.ci/run` runs (`scripts/dev check`) fail on what they are for: a layer violation, a type
error, a lint finding, a function more complex than grade C. Each is shown on a copy of the code with one
defect added, so a gate that stopped checking would turn this test red."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def copy(tmp_path) -> Path:
    out = tmp_path / "repo"
    shutil.copytree(ROOT / "chalicelib", out / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("app.py", "pyproject.toml"):
        shutil.copy(ROOT / name, out / name)
    return out


def _run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_the_layer_contract_holds_and_catches_the_api_reading_the_store(copy):
    clean = _run("lint-imports", "--no-cache", cwd=copy)
    assert clean.returncode == 0, clean.stdout
    _append(copy / "chalicelib/api/meta.py", "\nfrom ..store import repository  # noqa: E402,F401\n")
    broken = _run("lint-imports", "--no-cache", cwd=copy)
    assert broken.returncode != 0 and "chalicelib.api.meta -> chalicelib.store.repository" in broken.stdout


def test_the_layer_contract_catches_the_domain_importing_aws_or_money(copy):
    _append(copy / "chalicelib/domain/calendar.py", "\nimport boto3  # noqa: E402,F401\n")
    assert _run("lint-imports", "--no-cache", cwd=copy).returncode != 0


def test_the_layer_contract_catches_payments_reaching_back_into_services(copy):
    _append(copy / "chalicelib/payments/money.py", "\nfrom ..services import deps  # noqa: E402,F401\n")
    assert _run("lint-imports", "--no-cache", cwd=copy).returncode != 0


def test_mypy_catches_a_type_error(copy):
    _append(copy / "chalicelib/domain/calendar.py", "\n\ndef broken() -> int:\n    return 'not a number'\n")
    result = _run("mypy", cwd=copy)
    assert result.returncode != 0 and "calendar.py" in result.stdout


def test_ruff_catches_a_finding(copy):
    _append(copy / "chalicelib/domain/calendar.py", "\nimport os\n")
    result = _run("ruff", "check", "chalicelib", cwd=copy)
    assert result.returncode != 0 and "F401" in result.stdout


def test_the_complexity_ceiling_catches_a_function_above_grade_c(copy):
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(25))
    _append(copy / "chalicelib/domain/calendar.py", f"\n\ndef tangled(x: int) -> int:\n{branches}    return -1\n")
    result = _run("xenon", "--max-absolute", "C", "--max-modules", "B", "--max-average", "A", "chalicelib", cwd=copy)
    assert result.returncode != 0 and "tangled" in (result.stdout + result.stderr)
