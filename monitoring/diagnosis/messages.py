"""Diagnosis text: the sentences a person reads in a proposal (titles, root causes, notes).

The remedies (:mod:`monitoring.diagnosis.remedies`) word their own root causes, reasons
and titles beside the code that decides them; everything else is here.

Values interpolated here may come from logs; the diagnoser masks secrets in them before a
proposal leaves this package.
"""

from __future__ import annotations

NEEDS_INVESTIGATION = "Needs investigation: no safe automatic edit is clear from the evidence."
NO_REPOSITORY = (
    "No repository configured (TARGET_REPO_PATH), so no code was read and no edit proposed."
)
NO_CODE_FOUND = "No code in the repository matches the evidence, so no edit was proposed."

# --- titles -------------------------------------------------------------------------------
TITLE_EXCEPTION = "{exception} in {function}()"
TITLE_EXCEPTION_NO_FRAME = "{exception}: {message}"
TITLE_TRUNCATION = "Truncated output: {template}"
TITLE_SLOW = "Slow operation: {template}"
TITLE_DUPLICATES = "Duplicate spike: {template}"
TITLE_ERROR_LOG = "Repeated error: {template}"
TITLE_MAX_CHARS = 90

# --- root causes (playbooks) -------------------------------------------------------------
ROOT_EXCEPTION = (
    "{exception} ({message}) raised in {function}() at {path}:{line} (`{code}`), "
    "{times} between {first} and {last}."
)
ROOT_EXCEPTION_NO_CODE = (
    "{exception} ({message}) was raised {times} between {first} and {last}; "
    "no frame of the traceback is in the service's repository."
)
ROOT_ERROR_LOG = 'The service logged "{template}" {times} between {first} and {last}{where}.'
ROOT_OUTSIDE_HINT = (
    " The message reports a failure outside the code: a dependency the service calls is "
    "down or misconfigured (address, credentials, network), or something the platform "
    "gives ran out (disk space, a rate limit), which code changes rarely fix."
)
ROOT_SLOW = (
    'Operations were slower than expected ("{template}", {times}), up to {slowest} '
    "between {first} and {last}{where}."
)
ROOT_DUPLICATES = (
    'Duplicate deliveries were logged ("{template}", {times}) between {first} and '
    "{last}{where}. Senders such as Slack retry when an event is not acknowledged quickly "
    "(within 3 s), so a spike usually means the handler answered slowly or failed."
)
WHERE_EMITTED = "; it is written at {path}:{line}"

# --- reasoning and risk (playbooks) ------------------------------------------------------
RISK_INVESTIGATE = "Nothing is changed until a person decides on a fix."
REASON_LM_NO_EDIT = "The LM proposed no edit."

# --- notes --------------------------------------------------------------------------------
NOTE_LM_FAILED = "LM diagnosis failed ({reason}); the offline playbook was used."
NOTE_LM_SKIPPED_BUDGET = (
    "LM not used: {limit} LM diagnoses per cycle already made "
    "(MENDBOT_MAX_DIAGNOSES_PER_CYCLE); the offline playbook was used."
)
NOTE_LM_SKIPPED_DOWN = (
    "LM not used: an earlier LM call in this cycle failed ({reason}); the offline playbook "
    "was used."
)
NOTE_LM_CACHED = "LM diagnosis reused from the cache (same code, same model)."
NOTE_EDITS_RETRIED = "The LM's first fix was not usable ({reason}); it was asked once more."
NOTE_EDITS_DROPPED = "LM edits dropped: {reason}."
NOTE_LM_ONLY = "The offline playbook's edits are not proposed (MENDBOT_LM_ONLY): only the LM's are."
NOTE_PLAYBOOK_INSTEAD = "The offline playbook's edit is proposed instead."
NOTE_PLAYBOOK_EDIT_DROPPED = "Playbook edit dropped: {reason}."
NOTE_TEST_DROPPED = "LM regression test dropped: {reason}."

# --- review (the refusals themselves are in core/review.py) ----------------------------
RETRY_FEEDBACK = (
    "Your previous edits were rejected: {reason}. Propose edits again: copy old_text "
    "verbatim from current_code (it must occur exactly once in the file) and edit only the "
    "files shown in current_code. Return an empty list if no safe edit is possible."
)
RETRY_PARSE_FEEDBACK = (
    "Your previous answer could not be read: {reason}. Answer again with every output "
    "field in the asked format; write edits as a JSON list of objects with the keys path, "
    "old_text and new_text, escaping double quotes and newlines inside the strings."
)
