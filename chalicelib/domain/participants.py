"""Participant identity: National Insurance number format and the pseudonymous identifier."""
from __future__ import annotations

import hashlib
import hmac
import re

# HMRC's published format: two prefix letters (D, F, I, Q, U, V never; O never second; some pairs never
# issued), six digits, suffix A-D.
_NINO = re.compile(r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$")
_POSTCODE = re.compile(r"^(GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})$")


def normalise_nino(value: str) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def is_valid_nino(value: str) -> bool:
    return bool(_NINO.fullmatch(normalise_nino(value)))


def normalise_postcode(value: str) -> str:
    compact = re.sub(r"\s+", "", value or "").upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


def is_valid_postcode(value: str) -> bool:
    return bool(_POSTCODE.fullmatch(normalise_postcode(value)))


def participant_hash(nino: str, key: bytes) -> str:
    """A keyed hash of the NINO: finds a person's other referrals without storing or indexing the NINO.

    Only the two letters and six digits identify the person; the final letter is not part of the number's
    identity (the same person is often recorded with different suffixes), so it is left out."""
    digest = hmac.new(key, normalise_nino(nino)[:8].encode(), hashlib.sha256).hexdigest()
    return f"p_{digest}"


def pseudonymous_reference(participant_hash_value: str) -> str:
    """The short reference that claim files and reports use instead of a name or NINO."""
    return "PR-" + participant_hash_value.removeprefix("p_")[:12].upper()
