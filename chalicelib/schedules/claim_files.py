"""The claim-file worker: builds a claim file cut by `POST /claim-files` (deployed, the API invokes it
asynchronously with {"claim_file_id": ...}; Lambda retries a failed run, and a retry takes the build over)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from ..services import claim_files

workers_bp = Blueprint(__name__)


@workers_bp.lambda_function(name="claim_file_worker")
def claim_file_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    record = claim_files.build(str(event["claim_file_id"]), getattr(context, "get_remaining_time_in_millis", None))
    if record is None:
        return {"claim_file_id": event["claim_file_id"], "status": "unknown"}
    return {"claim_file_id": record.claim_file_id, "status": record.status, "line_count": record.line_count}
