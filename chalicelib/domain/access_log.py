"""The access log: who read which participant's personal fields, and when (UK GDPR accountability).

An entry names the reader (organisation and key id), the programme's controller (its commissioner), the
pseudonymous participant reference and the referral, what was read (the route) and when: never the data read.
The controller queries it (GET /access-log).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AccessEntry:
    controller_org_id: str   # the programme's commissioner: whose log it is
    participant_ref: str     # the pseudonymous reference (PR-...)
    referral_id: str
    reader_org_id: str
    reader_key_id: str
    what: str                # the route that returned the fields, e.g. "GET /referrals/{referral_id}"
    read_at: datetime
    entry_id: str

    @property
    def entry_key(self) -> str:
        """Sorts the controller's entries by time."""
        return f"{self.read_at.isoformat()}#{self.entry_id}"


def new_entry(controller_org_id: str, participant_ref: str, referral_id: str, reader_org_id: str,
              reader_key_id: str, what: str, read_at: datetime) -> AccessEntry:
    return AccessEntry(controller_org_id, participant_ref, referral_id, reader_org_id, reader_key_id, what, read_at,
                       secrets.token_hex(6))
