"""The states a referral can be in. Which action moves it from one to another is declared per journey step in
chalicelib/domain/steps.py; chalicelib/domain/lifecycle.py derives the state machine from there."""
from __future__ import annotations

REFERRED = "referred"            # sent by a referrer, waiting for the provider to acknowledge
ACCEPTED = "accepted"            # acknowledged and accepted, waiting to start
REJECTED = "rejected"            # acknowledged and rejected with a reason (final)
DID_NOT_START = "did_not_start"  # accepted but never started (final)
STARTED = "started"              # on provision, not yet assessed
ASSESSED = "assessed"            # initial assessment done, action plan due
IN_SUPPORT = "in_support"        # action plan agreed, regular reviews running
IN_WORK = "in_work"              # job start recorded, in-work support and sustainment checks
EXITED = "exited"                # left provision with an exit reason (final; a return is a new referral)

STATES = (REFERRED, ACCEPTED, REJECTED, DID_NOT_START, STARTED, ASSESSED, IN_SUPPORT, IN_WORK, EXITED)
FINAL_STATES = frozenset({REJECTED, DID_NOT_START, EXITED})
ON_PROVISION = (STARTED, ASSESSED, IN_SUPPORT, IN_WORK)
# Which states hold a place on the programme (the participant cannot be referred anywhere else meanwhile).
ACTIVE_STATES = frozenset(set(STATES) - FINAL_STATES)
