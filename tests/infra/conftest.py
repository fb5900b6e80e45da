"""The deployable template, packaged once per test run as `scripts/deploy package prod` does (offline)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Package:
    out: Path
    template: dict

    @property
    def sam(self) -> Path:
        return self.out / "sam.json"


def chalice_package(out: Path, stage: str = "prod") -> Package:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = "eu-west-2"
    subprocess.run([str(BIN / "chalice"), "package", "--stage", stage, "--merge-template", "infra/template.json",
                    str(out)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    return Package(out, json.loads((out / "sam.json").read_text()))


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> Package:
    return chalice_package(tmp_path_factory.mktemp("package") / "prod")
