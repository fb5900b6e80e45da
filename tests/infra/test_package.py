"""The deployable template is produced offline (no AWS credentials) and passes cfn-lint."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_chalice_package_with_the_infra_template_passes_cfn_lint(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = "eu-west-2"
    bin_dir = Path(sys.executable).parent
    out = tmp_path / "package"
    subprocess.run([str(bin_dir / "chalice"), "package", "--stage", "prod", "--merge-template",
                    "infra/template.json", str(out)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    template = json.loads((out / "sam.json").read_text())
    lint = subprocess.run([str(bin_dir / "cfn-lint"), str(out / "sam.json")], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    resources = template["Resources"]
    # Each function runs with its own least-privilege role from infra/, not Chalice's default role.
    roles = {name: r["Properties"]["Role"] for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert roles == {"APIHandler": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]},
                     "ApiKey": {"Fn::GetAtt": ["AuthorizerRole", "Arn"]},
                     "NightlyCompliance": {"Fn::GetAtt": ["NightlyRole", "Arn"]},
                     "NightlyShard": {"Fn::GetAtt": ["NightlyShardRole", "Arn"]}}
    assert "DefaultRole" not in resources
    assert resources["APIHandler"]["Properties"]["Environment"]["Variables"]["REFPAY_STAGE"] == "prod"
    # The dependencies ship in a layer, so the function's own zip stays small.
    assert (out / "deployment.zip").stat().st_size < 1_000_000
    assert resources["ReferralsTable"]["Properties"]["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
