"""Diagnosis cost: what diagnosing one anomaly took (LM requests, tokens, seconds).

:class:`~monitoring.diagnosis.Diagnoser` keeps one :class:`DiagnosisUsage` per anomaly
fingerprint in ``Diagnoser.usage``. LM figures are read from the requests the diagnoser's
own ``dspy.LM`` recorded (its ``history``: one entry per answered request, with the
server's ``usage``), so they count what was actually sent; a request that got no answer
(timeout, refused connection) is not in the history and counts 0 tokens. Offline
(playbooks only) every LM figure is 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class DiagnosisUsage:
    """The cost of one anomaly's diagnosis.

    Attributes:
        lm_requests: LM requests answered (0 offline or from the cache).
        input_tokens, output_tokens: prompt and completion tokens the server reported.
        seconds: wall time of the diagnosis (context, LM or playbook, edit checks).
        source: ``"lm"`` or ``"playbook"``, who wrote the diagnosis in the end.
    """

    lm_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    source: str = "playbook"

    def add_requests(self, entries: Iterable[dict[str, Any]]) -> None:
        """Count DSPy history entries (each ``{"usage": {"prompt_tokens", ...}}``)."""
        for entry in entries:
            usage = entry.get("usage") or {}
            self.lm_requests += 1
            self.input_tokens += _int(usage.get("prompt_tokens") or usage.get("input_tokens"))
            self.output_tokens += _int(usage.get("completion_tokens") or usage.get("output_tokens"))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
