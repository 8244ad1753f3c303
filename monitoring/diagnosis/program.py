"""Diagnosis with the LM: the DSPy module composing AnalyzeAnomaly and GenerateFix.

:class:`DiagnoseAndFix` asks for one analysis and one fix per anomaly, and, when the fix
cannot be used, one more fix attempt that is told why (``review_feedback``): its edits
were refused by the locator or the review (the sentence of the
:class:`~core.edits.EditRejected`), or its answer did not parse (what was missing or
malformed). Without code context it stops after the analysis (no edit could pass the
evidence check). A fix whose every attempt fails keeps the analysis and drops the edits
(``edits_dropped``), so the diagnoser can fall back to the playbook's edit.

:func:`run_program` is the one boundary with DSPy: it runs the module in
``dspy.context(lm=..., adapter=...)`` (never a process-global ``dspy.configure``) and
translates DSPy's errors into :mod:`monitoring.diagnosis.errors`. The adapter
(:mod:`monitoring.diagnosis.adapter`, ``MENDBOT_LM_ADAPTER``) parses strictly first, then
reads near misses tolerantly; the chat adapter falls back to the JSON adapter once when an
answer does not parse at all (one more request).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import dspy
from dspy.utils.exceptions import (
    AdapterParseError,
    DSPyError,
    LMError,
    LMTimeoutError,
    is_retryable_lm_error,
)

from core.edits import EditRejected
from core.proposals import Edit, Risk
from core.redact import scrub_secrets
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.adapter import AdapterName, build_adapter
from monitoring.diagnosis.errors import LMOutputError, LMUnavailable
from monitoring.diagnosis.inputs import LMInputs
from monitoring.diagnosis.signatures import AnalyzeAnomaly, GenerateFix, ProposedEdit

FIRST_ATTEMPT = "none"
#: Fix attempts per anomaly: the first, and one retry told why the edits were rejected.
MAX_FIX_ATTEMPTS = 2

#: Checks a list of proposed edits; returns them as repository edits or raises EditRejected.
Review = Callable[[list[ProposedEdit]], list[Edit]]


@dataclass
class LMAnswer:
    """What the LM concluded, after the edit checks.

    Attributes:
        root_cause, severity, components, confidence: from AnalyzeAnomaly.
        edits: accepted edits (empty when the LM proposed none or they were dropped).
        reasoning, risk, risk_notes: from GenerateFix (empty/MEDIUM without one).
        regression_test: the test module GenerateFix wrote with the accepted edits ("" when
            none).
        rejections: why each rejected attempt failed, in order (0 to 2 entries): a
            refused edit's sentence, or why the answer did not parse.
        edits_dropped: True when every fix attempt was refused or did not parse.
        fixed: True when GenerateFix ran.
    """

    root_cause: str
    severity: str
    components: list[str]
    confidence: float
    edits: list[Edit] = field(default_factory=list)
    reasoning: str = ""
    risk: Risk = Risk.MEDIUM
    risk_notes: str = ""
    regression_test: str = ""
    rejections: list[str] = field(default_factory=list)
    edits_dropped: bool = False
    fixed: bool = False


class DiagnoseAndFix(dspy.Module):
    """Analysis, then a fix whose edits are reviewed, retried once with the error."""

    def __init__(self) -> None:
        super().__init__()
        self.analyze = dspy.Predict(AnalyzeAnomaly)
        self.generate_fix = dspy.Predict(GenerateFix)

    def forward(self, *, inputs: LMInputs, review: Review) -> LMAnswer:
        analysis = self.analyze(
            anomaly_description=inputs.anomaly_description,
            log_samples=inputs.log_samples,
            system_context=inputs.system_context,
        )
        answer = LMAnswer(
            root_cause=analysis.root_cause,
            severity=analysis.severity_assessment,
            components=list(analysis.affected_components),
            confidence=min(1.0, max(0.0, float(analysis.confidence))),
        )
        if inputs.current_code:
            self._fix(answer, inputs, review)
        return answer

    def _fix(self, answer: LMAnswer, inputs: LMInputs, review: Review) -> None:
        feedback = FIRST_ATTEMPT
        for _attempt in range(MAX_FIX_ATTEMPTS):
            try:
                fix = self.generate_fix(
                    root_cause=answer.root_cause,
                    affected_components=answer.components,
                    current_code=inputs.current_code,
                    review_feedback=feedback,
                )
            except AdapterParseError as error:
                problem = parse_problem(error)
                answer.rejections.append(problem)
                answer.edits_dropped = True
                feedback = msg.RETRY_PARSE_FEEDBACK.format(reason=problem)
                continue
            answer.fixed = True
            answer.reasoning = fix.reasoning
            answer.risk = Risk(fix.risk_assessment.level)
            answer.risk_notes = fix.risk_assessment.notes
            if not fix.edits:
                answer.edits, answer.edits_dropped = [], False
                return
            try:
                answer.edits, answer.edits_dropped = review(list(fix.edits)), False
                answer.regression_test = str(getattr(fix, "regression_test", "") or "").strip()
                return
            except EditRejected as rejected:
                answer.rejections.append(str(rejected))
                answer.edits_dropped = True
                feedback = msg.RETRY_FEEDBACK.format(reason=rejected)


def run_program(
    lm: dspy.LM,
    inputs: LMInputs,
    review: Review,
    program: DiagnoseAndFix | None = None,
    *,
    adapter: AdapterName = "chat",
) -> LMAnswer:
    """Run :class:`DiagnoseAndFix` with ``lm``: ``program`` (a compiled one, with demos:
    :mod:`monitoring.diagnosis.compiled`) or else a fresh, uncompiled one.

    Args:
        lm: the LM (:func:`monitoring.diagnosis.lm.build_lm`).
        inputs: the masked, bounded texts.
        review: locates and checks proposed edits; raises ``EditRejected``.
        adapter: how answers are asked for and parsed (``MENDBOT_LM_ADAPTER``).

    Raises:
        LMUnavailable: the LM could not be reached, timed out, or refused the request.
        LMOutputError: its analysis did not fit the signature (a fix that does not parse
            is retried, then its edits are dropped: see :class:`LMAnswer`).
    """
    try:
        with dspy.context(lm=lm, adapter=build_adapter(adapter)):
            return (program or DiagnoseAndFix())(inputs=inputs, review=review)
    except LMError as error:
        retryable = is_retryable_lm_error(error)
        if _is_timeout(error):
            timeout = lm.kwargs.get("timeout")
            raise LMUnavailable(f"timed out after {timeout} s", retryable=retryable) from error
        raise LMUnavailable(_reason(error), retryable=retryable) from error
    except AdapterParseError as error:
        raise LMOutputError(f"malformed LM output: {_reason(error)}") from error
    except DSPyError as error:
        raise LMOutputError(_reason(error)) from error
    except (ValueError, TypeError) as error:  # e.g. an out-of-range enum in a parsed field
        raise LMOutputError(f"unusable LM output: {_reason(error)}") from error


def parse_problem(error: AdapterParseError) -> str:
    """Why an answer did not parse, in one sentence for the retry (at most 300 characters):
    the output fields it lacks, or the field that was malformed and the parser's words."""
    expected = list(error.signature.output_fields)
    parsed = error.parsed_result
    if isinstance(parsed, dict):
        missing = [name for name in expected if name not in parsed]
        if missing:
            return f"the answer lacks the output fields {', '.join(missing)}"
    text = str(error)
    field_match = re.search(r"Failed to parse field (\w+)", text)
    detail = re.search(r"Error message: (.+)", text)
    if field_match:
        why = detail.group(1).strip() if detail else "not in the asked format"
        return scrub_secrets(f"the field {field_match.group(1)} is malformed ({why})")[:300]
    return f"the answer is not in the asked format (expected fields: {', '.join(expected)})"


def _is_timeout(error: LMError) -> bool:
    """lm15 reports a read timeout as a transport error; LiteLLM as LMTimeoutError."""
    text = str(error).lower()
    return isinstance(error, LMTimeoutError) or "timed out" in text or "timeout" in text


def _reason(error: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters, secrets masked)."""
    first = (str(error).strip().splitlines() or [""])[0]
    return scrub_secrets(f"{type(error).__name__}: {first}")[:200]
