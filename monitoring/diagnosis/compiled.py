"""Diagnosis: the compiled diagnosis program: labelled examples, DSPy optimizers, its state.

``mendbot learn`` turns verified fixes into labelled examples (:func:`example`: the inputs
the diagnoser gives the LM, and as outputs the root cause and the edits that were
verified) and compiles :class:`~monitoring.diagnosis.program.DiagnoseAndFix` with them
(:func:`compile_program`):

- ``LabeledFewShot``: up to ``max_demos`` examples become each predictor's demos; no LM
  call;
- ``BootstrapFewShot`` (with an LM): the program is run on the examples and the traces
  whose fix :func:`fix_metric` accepts become demos, topped up with labelled ones. The
  metric is the fix evaluation's question asked offline: would the answer have made the
  change that was verified in production (the same code once applied)?

The state saved is mendbot's own JSON (:data:`STATE_FORMAT`): per predictor (``analyze``,
``generate_fix``) its demos, nothing else: no signature, no LM settings. So a saved
program keeps the instructions of the code that loads it, and loading it
(:func:`load_program`) runs no code from the database. A state that does not fit raises
:class:`CompiledProgramError`; the caller uses the uncompiled program then.

Imported only for ``mendbot learn``, ``mendbot eval --program`` and LM diagnoses (dspy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import dspy

from core.edits import EditRejected
from core.proposals import Edit
from monitoring.diagnosis.inputs import LMInputs
from monitoring.diagnosis.program import DiagnoseAndFix
from monitoring.diagnosis.signatures import ProposedEdit

#: The ``format`` of a saved state.
STATE_FORMAT = "mendbot-diagnosis-program/1"
#: The fields an example gives the program (the rest are labels).
INPUT_FIELDS = ("anomaly_description", "log_samples", "system_context", "current_code")
#: Demos per predictor when none is asked for.
DEFAULT_MAX_DEMOS = 3
#: Most demos per predictor a saved state may hold, and characters per demo field.
MAX_DEMOS = 16
MAX_FIELD_CHARS = 20_000

Optimizer = Literal["labeled", "bootstrap"]
OPTIMIZER_NAMES: dict[str, str] = {"labeled": "LabeledFewShot", "bootstrap": "BootstrapFewShot"}


class CompiledProgramError(ValueError):
    """A saved state is not a compiled diagnosis program this mendbot can load."""


def example(
    inputs: LMInputs,
    *,
    root_cause: str,
    severity: str,
    components: Sequence[str],
    confidence: float,
    edits: Sequence[Edit],
    reasoning: str,
    risk_level: str,
    risk_notes: str,
    regression_test: str = "",
) -> dict[str, Any]:
    """One labelled example as a JSON-ready dict: every input and output field of
    ``AnalyzeAnomaly`` and ``GenerateFix`` (``review_feedback`` is ``none``, as on a first
    attempt). ``edits`` must already use the placeholders of ``inputs.current_code``."""
    return {
        "anomaly_description": inputs.anomaly_description,
        "log_samples": inputs.log_samples,
        "system_context": inputs.system_context,
        "current_code": inputs.current_code,
        "review_feedback": "none",
        "root_cause": root_cause,
        "severity_assessment": severity,
        "affected_components": list(components),
        "confidence": round(float(confidence), 2),
        "edits": [e.model_dump() for e in edits],
        "reasoning": reasoning,
        "risk_assessment": {"level": risk_level, "notes": risk_notes},
        "regression_test": regression_test,
    }


def compile_program(
    examples: Sequence[dict[str, Any]],
    *,
    optimizer: Optimizer = "labeled",
    max_demos: int = DEFAULT_MAX_DEMOS,
    lm: dspy.LM | None = None,
) -> dict[str, Any]:
    """Compile the diagnosis program with ``examples`` (from :func:`example`).

    Args:
        examples: at least one.
        optimizer: ``labeled`` (no LM) or ``bootstrap`` (needs ``lm``).
        max_demos: demos per predictor at most.
        lm: the LM ``bootstrap`` runs the program with.

    Returns:
        The compiled program's state (:data:`STATE_FORMAT`), JSON-ready.

    Raises:
        ValueError: no examples, or ``bootstrap`` without an LM.
        dspy.utils.exceptions.DSPyError and LM errors: bootstrapping failed.
    """
    if not examples:
        raise ValueError("no examples to compile with")
    trainset = [dspy.Example(**e).with_inputs(*INPUT_FIELDS) for e in examples]
    k = max(1, min(max_demos, MAX_DEMOS))
    if optimizer == "labeled":
        compiled = dspy.LabeledFewShot(k=k).compile(DiagnoseAndFix(), trainset=trainset)
        return program_state(compiled)
    if lm is None:
        raise ValueError("BootstrapFewShot needs an LM (MENDBOT_LM)")
    teleprompter = dspy.BootstrapFewShot(
        metric=fix_metric, max_bootstrapped_demos=k, max_labeled_demos=k, max_rounds=1
    )
    adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
    with dspy.context(lm=lm, adapter=adapter):
        trained = teleprompter.compile(_Trainable(), trainset=trainset)
    return program_state(trained.program)


def program_state(program: DiagnoseAndFix) -> dict[str, Any]:
    """The saved form of a compiled program: its demos per predictor, JSON-ready."""
    predictors = {
        name: {"demos": predictor.dump_state()["demos"]}
        for name, predictor in program.named_predictors()
    }
    return {"format": STATE_FORMAT, "predictors": predictors}


def load_program(state: Any) -> DiagnoseAndFix:
    """A :class:`DiagnoseAndFix` with the demos of a saved ``state``.

    Raises:
        CompiledProgramError: ``state`` is not in :data:`STATE_FORMAT`, names a predictor
            the program lacks, or holds a demo that is not a small JSON object.
    """
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CompiledProgramError(f"not a {STATE_FORMAT} state")
    saved = state.get("predictors")
    program = DiagnoseAndFix()
    known = dict(program.named_predictors())
    if not isinstance(saved, dict) or not saved or set(saved) - set(known):
        raise CompiledProgramError(f"predictors must be some of {sorted(known)}")
    for name, entry in saved.items():
        demos = entry.get("demos") if isinstance(entry, dict) else None
        known[name].demos = _demos(name, demos)
    return program


def _demos(name: str, demos: Any) -> list[dspy.Example]:
    if not isinstance(demos, list) or len(demos) > MAX_DEMOS:
        raise CompiledProgramError(f"{name}: demos must be a list of at most {MAX_DEMOS}")
    loaded = []
    for demo in demos:
        if not isinstance(demo, dict) or not all(isinstance(k, str) for k in demo):
            raise CompiledProgramError(f"{name}: a demo is not an object")
        if any(len(str(v)) > MAX_FIELD_CHARS for v in demo.values()):
            raise CompiledProgramError(f"{name}: a demo field is over {MAX_FIELD_CHARS} characters")
        loaded.append(dspy.Example(**demo))
    return loaded


def fix_metric(example: Any, prediction: Any, trace: Any = None) -> bool:
    """True when the prediction's edits, applied to the example's code, give the same code
    as the verified edits (whitespace at line ends and blank lines aside)."""
    expected = _applied(example.current_code, [Edit.model_validate(e) for e in example.edits])
    got = _applied(example.current_code, list(getattr(prediction, "edits", None) or []))
    return expected is not None and got is not None and expected == got


def _applied(code: str, edits: Sequence[Edit]) -> str | None:
    """``code`` with each edit's old text replaced once; None when one does not occur
    exactly once or there are none."""
    if not edits:
        return None
    for edit in edits:
        if not edit.old_text or code.count(edit.old_text) != 1:
            return None
        code = code.replace(edit.old_text, edit.new_text)
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


class _Trainable(dspy.Module):
    """The program over an example's fields, for BootstrapFewShot: edits are checked
    against the example's code (old text once in it) instead of a repository."""

    def __init__(self) -> None:
        super().__init__()
        self.program = DiagnoseAndFix()

    def forward(
        self, *, anomaly_description: str, log_samples: str, system_context: str, current_code: str
    ) -> dspy.Prediction:
        inputs = LMInputs(anomaly_description, log_samples, system_context, current_code)
        answer = self.program(inputs=inputs, review=_in_code(current_code))
        return dspy.Prediction(root_cause=answer.root_cause, edits=answer.edits)


def _in_code(code: str) -> Any:
    def review(proposed: list[ProposedEdit]) -> list[Edit]:
        edits = [Edit(path=p.path, old_text=p.old_text, new_text=p.new_text) for p in proposed]
        for edit in edits:
            if code.count(edit.old_text) != 1:
                raise EditRejected(edit.path, "old_text does not occur exactly once")
        return edits

    return review
