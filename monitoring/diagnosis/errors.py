"""Diagnosis errors: what can go wrong between an anomaly and a proposal, in one tree.

::

    DiagnosisError                 the LM path failed; the diagnoser falls back to a playbook
    ├── LMUnavailable              no usable answer: timeout, connection refused, HTTP error,
    │                              bad credentials (``.retryable`` as DSPy judged it)
    └── LMOutputError              the LM answered, but not in the shape the signatures ask
                                   for (missing fields, invalid JSON for edits, bad enums)

DSPy's errors are translated at one boundary (:func:`monitoring.diagnosis.program.run_program`);
nothing above it sees a ``dspy`` exception. Edit check failures are not errors here: they
are :class:`core.edits.EditRejected`, turned into proposal notes by the diagnoser.
"""

from __future__ import annotations


class DiagnosisError(Exception):
    """Base of the errors raised on the LM path; ``str(e)`` is a short reason for logs."""


class LMUnavailable(DiagnosisError):
    """The LM could not be reached or refused the request.

    Attributes:
        retryable: True for transient trouble (timeouts, 5xx, rate limits).
    """

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable


class LMOutputError(DiagnosisError):
    """The LM's answer could not be parsed into the signature's fields."""
