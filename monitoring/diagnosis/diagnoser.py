"""Diagnosis: turn anomalies into unsaved FixProposals (LM through DSPy, offline playbooks).

For each anomaly, most severe first:

1. read the code the evidence points at (:mod:`monitoring.diagnosis.context`);
2. with ``MENDBOT_LM`` set: reuse a cached LM diagnosis for the same fingerprint, model
   and code, else ask the LM while the cycle's budget (``MENDBOT_MAX_DIAGNOSES_PER_CYCLE``)
   lasts; on any LM trouble fall back to the playbook, log the reason on
   ``mendbot.diagnosis`` and say so in ``proposal.notes``. After an LM call fails to get an
   answer at all (timeout, connection, HTTP error) the rest of the cycle uses playbooks;
3. without an LM, beyond the budget, or on failure: the offline playbook (with
   ``lm_only``, ``MENDBOT_LM_ONLY``: its diagnosis without its edits, and an LM that
   failed is asked again for the next anomaly);
4. locate the LM's edits (:mod:`monitoring.diagnosis.locate`: loose paths and drifted
   ``old_text`` rewritten to the file's exact lines), then review the edits
   (:func:`core.review.review_change`: paths, protection, evidence, placeholders,
   syntax, rewrites); edits that fail are dropped with a note. When the LM's
   edits are dropped and the playbook has a safe edit, the playbook's proposal is used
   instead; otherwise the proposal "needs investigation" (no edits). A reviewed proposal
   carries the evidence that made its files editable and the risky constructs its edits
   add (``risk_reasons``), which make its risk HIGH whatever the LM said.
5. a proposal with edits carries a regression test: the LM's (``GenerateFix``), when it
   passes :func:`~monitoring.diagnosis.reproduce.review_test`, else the template for how
   the evidence reaches the failure (:mod:`monitoring.diagnosis.reproduce`), if any.

:meth:`Diagnoser.propose` never raises for LM or repository trouble. dspy is imported only
when an LM diagnosis is made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.edits import EditRejected
from core.models import Anomaly, Diagnosis, Severity
from core.policy import DEFAULT_POLICY, EditPolicy
from core.proposals import Edit, FixProposal, RegressionTest
from core.redact import Redactor, scrub_secrets
from core.review import REJECT_NO_EVIDENCE_NONE, ReviewedChange, review_change
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.cache import DiagnosisCache
from monitoring.diagnosis.context import CodeContext, build_context
from monitoring.diagnosis.draft import Draft, proposal_from
from monitoring.diagnosis.errors import DiagnosisError, LMUnavailable
from monitoring.diagnosis.inputs import build_inputs
from monitoring.diagnosis.locate import locate_edits
from monitoring.diagnosis.playbooks import evidence_facts, run_playbook
from monitoring.diagnosis.remedies.base import Failure
from monitoring.diagnosis.repo import RepoIndex
from monitoring.diagnosis.reproduce import regression_test, review_test
from monitoring.diagnosis.usage import DiagnosisUsage

if TYPE_CHECKING:  # lm.py imports dspy (~60 MB): only when an LM diagnosis is made
    from core.state import KeyValueStore
    from monitoring.diagnosis.config import LMConfig

logger = logging.getLogger("mendbot.diagnosis")


@dataclass
class _Cycle:
    """LM bookkeeping for one :meth:`Diagnoser.propose` call."""

    budget: int
    down: str | None = None


class Diagnoser:
    """Diagnoses anomalies and drafts fix proposals.

    Args:
        lm: the LM to ask (``MENDBOT_LM`` and ``OPENAI_*``); None = offline playbooks only.
        repo_path: the service's checkout (``TARGET_REPO_PATH``) whose code the evidence
            points at; None = diagnose without code (no edits).
        max_lm_diagnoses: LM diagnoses per :meth:`propose` call at most
            (``MENDBOT_MAX_DIAGNOSES_PER_CYCLE``); the rest get playbooks.
        state: persists the LM diagnosis cache across restarts; None keeps it in memory.
        program: called before each LM diagnosis: the compiled program to run (a
            ``DiagnoseAndFix`` with demos, ``mendbot learn``), or None for the uncompiled one.
        lm_only: never propose a playbook's edits (``MENDBOT_LM_ONLY``): when the LM fails
            or its edits are refused the proposal needs investigation; for measuring the LM.

    Attributes:
        usage: fingerprint -> what its latest diagnosis cost (LM requests, tokens, seconds).
        policy: protected paths, caps and rewrite thresholds every edit is reviewed by
            (``MENDBOT_PROTECTED_PATHS``); the implementor must use the same.
    """

    def __init__(
        self,
        *,
        lm: LMConfig | None = None,
        repo_path: Path | None = None,
        max_lm_diagnoses: int = 3,
        state: KeyValueStore | None = None,
        policy: EditPolicy = DEFAULT_POLICY,
        program: Callable[[], Any] | None = None,
        lm_only: bool = False,
    ) -> None:
        self.program = program
        self.lm_config = lm
        self.lm_only = lm_only
        self.policy = policy
        self.repo_path = repo_path
        self.max_lm_diagnoses = max_lm_diagnoses
        self._cache = DiagnosisCache(state=state)
        self._lm: Any = None
        self.engine: str | None = None
        self.usage: dict[str, DiagnosisUsage] = {}
        self._usage: DiagnosisUsage | None = None
        #: Told after each LM diagnosis: ``(requests, input tokens, output tokens, seconds,
        #: ok)`` from DSPy's LM history (``/metrics``); None = not measured.
        self.on_lm: Callable[[int, int, int, float, bool], None] | None = None

    def propose(self, anomalies: Sequence[Anomaly]) -> list[FixProposal]:
        """One unsaved proposal per anomaly, in the order given.

        Returns:
            Proposals with ``id=""``, ``status=proposed``, ``created_at`` now (UTC) and
            ``fingerprint`` the anomaly's; ``edits`` empty means "needs investigation".
        """
        if not anomalies:
            return []
        index = self._index()
        cycle = _Cycle(budget=self.max_lm_diagnoses)
        drafts: dict[int, tuple[Draft, CodeContext]] = {}
        for position in _most_severe_first(anomalies):
            drafts[position] = self._diagnose_safely(anomalies[position], index, cycle)
        now = datetime.now(UTC)
        return [proposal_from(anomaly, *drafts[i], now) for i, anomaly in enumerate(anomalies)]

    # --- one anomaly ----------------------------------------------------------------------
    def _diagnose_safely(
        self, anomaly: Anomaly, index: RepoIndex | None, cycle: _Cycle
    ) -> tuple[Draft, CodeContext]:
        usage = self._usage = self.usage[anomaly.fingerprint] = DiagnosisUsage()
        started = time.monotonic()
        try:
            context = build_context(anomaly, index)
            draft = self._diagnose(anomaly, context, index, cycle)
            draft.regression_test = self._test_for(draft, anomaly, context, index)
        except Exception:  # a bug or an odd repository must not cost the other anomalies
            logger.exception("diagnosis of %s failed; proposing without code", anomaly.fingerprint)
            context = CodeContext()
            draft = run_playbook(anomaly, context, None)
        finally:
            usage.seconds = time.monotonic() - started
            self._usage = None
        usage.source = draft.diagnosis.source
        return draft, context

    def _diagnose(
        self, anomaly: Anomaly, context: CodeContext, index: RepoIndex | None, cycle: _Cycle
    ) -> Draft:
        model = self.lm_config.model if self.lm_config else None
        if not model:
            return self._playbook(anomaly, context, index)
        compiled = self.program() if self.program is not None else None
        program_id = getattr(compiled, "mendbot_program_id", None)
        if program_id is not None:  # a diagnosis before `mendbot learn` is not reused after
            model = f"{model}+program#{program_id}"
        cached = self._cache.get(
            fingerprint=anomaly.fingerprint, model=model, digest=context.digest
        )
        if cached is not None:
            cached.notes.append(msg.NOTE_LM_CACHED)
            return self._settle(cached, anomaly, context, index)
        if cycle.down:
            return self._playbook(
                anomaly, context, index, msg.NOTE_LM_SKIPPED_DOWN.format(reason=cycle.down)
            )
        if cycle.budget <= 0:
            note = msg.NOTE_LM_SKIPPED_BUDGET.format(limit=self.max_lm_diagnoses)
            return self._playbook(anomaly, context, index, note)
        cycle.budget -= 1
        try:
            draft = self._lm_draft(anomaly, context, index, compiled)
        except DiagnosisError as error:
            if isinstance(error, LMUnavailable) and not self.lm_only:
                cycle.down = str(error)
            logger.warning(
                "LM diagnosis of %s (%s) failed: %s; using the offline playbook",
                anomaly.fingerprint,
                anomaly.kind,
                error,
            )
            return self._playbook(anomaly, context, index, msg.NOTE_LM_FAILED.format(reason=error))
        except Exception as error:
            logger.exception(
                "LM diagnosis of %s crashed; using the offline playbook", anomaly.fingerprint
            )
            reason = f"{type(error).__name__}"
            return self._playbook(anomaly, context, index, msg.NOTE_LM_FAILED.format(reason=reason))
        self._cache.put(
            fingerprint=anomaly.fingerprint, model=model, digest=context.digest, draft=draft
        )
        return self._settle(draft, anomaly, context, index)

    def _playbook(
        self, anomaly: Anomaly, context: CodeContext, index: RepoIndex | None, *notes: str
    ) -> Draft:
        draft = run_playbook(anomaly, context, index)
        draft.notes = [*notes, *draft.notes]
        if draft.edits and self.lm_only and self._model:
            draft.edits, draft.title = [], ""
            draft.notes.append(msg.NOTE_LM_ONLY)
        if draft.edits:
            try:
                draft.settle(self._review(draft.edits, anomaly, context, index))
            except EditRejected as rejected:
                logger.warning("playbook edit for %s dropped: %s", anomaly.fingerprint, rejected)
                draft.edits = []
                draft.notes.append(msg.NOTE_PLAYBOOK_EDIT_DROPPED.format(reason=rejected))
        return draft

    def _settle(
        self, draft: Draft, anomaly: Anomaly, context: CodeContext, index: RepoIndex | None
    ) -> Draft:
        """Re-check an LM draft's edits; prefer the playbook's edit when the LM's failed."""
        if draft.edits:
            try:
                draft.settle(self._review(draft.edits, anomaly, context, index))
            except EditRejected as rejected:
                draft.edits, draft.edits_dropped = [], True
                draft.notes.append(msg.NOTE_EDITS_DROPPED.format(reason=rejected))
        if draft.edits_dropped and not self.lm_only:
            fallback = self._playbook(anomaly, context, index)
            if fallback.edits:
                fallback.notes = [*draft.notes, msg.NOTE_PLAYBOOK_INSTEAD, *fallback.notes]
                return fallback
        return draft

    def _test_for(
        self, draft: Draft, anomaly: Anomaly, context: CodeContext, index: RepoIndex | None
    ) -> RegressionTest | None:
        """The draft's regression test: its own when it passes review, else a template's;
        none without edits."""
        if not draft.edits or index is None:
            return None
        if draft.regression_test is not None:
            problem = review_test(draft.regression_test.content)
            if problem is None:
                return draft.regression_test
            draft.notes.append(msg.NOTE_TEST_DROPPED.format(reason=problem))
        failure = Failure.of(anomaly, context, index)
        times = "once" if anomaly.count == 1 else f"{anomaly.count} times"
        return regression_test(failure, times=times) if failure else None

    def _review(
        self, edits: list[Edit], anomaly: Anomaly, context: CodeContext, index: RepoIndex | None
    ) -> ReviewedChange:
        if index is None:
            raise EditRejected(edits[0].path, REJECT_NO_EVIDENCE_NONE)
        return review_change(
            index.root, edits, context.evidence, anomaly=anomaly, policy=self.policy
        )

    # --- the LM -------------------------------------------------------------------------------
    def _lm_draft(
        self, anomaly: Anomaly, context: CodeContext, index: RepoIndex | None, compiled: Any
    ) -> Draft:
        from monitoring.diagnosis.program import run_program  # imports dspy

        lm = self._get_lm()
        log_redactor = Redactor()
        code_redactor = Redactor(label_prefix="CODE_", source_code=True)
        inputs = build_inputs(
            anomaly, context, index, log_redactor=log_redactor, code_redactor=code_redactor
        )

        def review(proposed: list[Any]) -> list[Edit]:
            edits = [
                Edit(
                    path=p.path,
                    old_text=code_redactor.restore(p.old_text),
                    new_text=code_redactor.restore(p.new_text),
                )
                for p in proposed
            ]
            if index is not None:
                files = context.evidence_files
                edits = locate_edits(index.root, edits, evidence_files=files, policy=self.policy)
            return self._review(edits, anomaly, context, index).edits

        history = getattr(lm, "history", None)
        before = {id(entry) for entry in history} if isinstance(history, list) else set()
        try:
            adapter = self.lm_config.adapter if self.lm_config else "chat"
            answer = self._measured(
                lm, lambda: run_program(lm, inputs, review, compiled, adapter=adapter)
            )
        finally:
            if isinstance(history, list) and self._usage is not None:
                self._usage.add_requests(e for e in history if id(e) not in before)
        answer.regression_test = code_redactor.restore(answer.regression_test)
        logger.info(
            "LM diagnosis of %s by %s (%s engine): %d input characters",
            anomaly.fingerprint,
            self._model,
            self.engine,
            inputs.total_chars,
        )
        return self._draft_from(answer, anomaly, context, index)

    def _measured(self, lm: Any, ask: Callable[[], Any]) -> Any:
        """``ask()``, telling :attr:`on_lm` the requests, tokens and seconds it took."""
        if self.on_lm is None:
            return ask()
        before, started, ok = len(lm.history), time.monotonic(), False
        try:
            answer = ask()
            ok = True
            return answer
        finally:
            made = lm.history[before:]
            usage = [entry.get("usage") or {} for entry in made]
            self.on_lm(
                len(made),
                sum(int(u.get("prompt_tokens") or 0) for u in usage),
                sum(int(u.get("completion_tokens") or 0) for u in usage),
                time.monotonic() - started,
                ok,
            )

    def _draft_from(
        self, answer: Any, anomaly: Anomaly, context: CodeContext, index: RepoIndex | None
    ) -> Draft:
        """The draft an LM answer (``program.Answer``) makes, with notes on retried or
        dropped edits."""
        notes = []
        if answer.rejections:
            notes.append(msg.NOTE_EDITS_RETRIED.format(reason=answer.rejections[0]))
        if answer.edits_dropped:
            logger.warning(
                "LM edits for %s dropped: %s", anomaly.fingerprint, answer.rejections[-1]
            )
            notes.append(msg.NOTE_EDITS_DROPPED.format(reason=answer.rejections[-1]))
        diagnosis = Diagnosis(
            root_cause=answer.root_cause,
            severity_assessment=Severity(answer.severity),
            affected_components=answer.components,
            confidence=answer.confidence,
            source="lm",
            model=self._model,
            evidence=evidence_facts(anomaly, context),
        )
        test = None
        if answer.edits and answer.regression_test:
            fails_with = (anomaly.exception_type or "").rsplit(".", 1)[-1] or None
            test = RegressionTest(content=answer.regression_test, fails_with=fails_with)
        return Draft(
            diagnosis=diagnosis,
            edits=answer.edits,
            reasoning=answer.reasoning or _no_fix_reason(context, index),
            risk=answer.risk,
            risk_notes=answer.risk_notes,
            notes=notes,
            edits_dropped=answer.edits_dropped,
            regression_test=test,
        )

    @property
    def _model(self) -> str | None:
        return self.lm_config.model if self.lm_config else None

    def _get_lm(self) -> Any:
        if self._lm is None:
            assert self.lm_config is not None, "asked for an LM without MENDBOT_LM"
            from monitoring.diagnosis.lm import build_lm  # imports dspy

            try:
                self._lm, self.engine = build_lm(self.lm_config)
            except Exception as error:
                reason = scrub_secrets(str(error))[:200]
                raise LMUnavailable(f"LM setup failed: {reason}") from error
            logger.info("diagnosis LM %s served by the %s engine", self._model, self.engine)
        return self._lm

    def _index(self) -> RepoIndex | None:
        root = self.repo_path
        if root is None:
            return None
        if not root.is_dir():
            logger.warning("TARGET_REPO_PATH %s is not a directory; diagnosing without code", root)
            return None
        return RepoIndex(root=root, policy=self.policy)


def _most_severe_first(anomalies: Sequence[Anomaly]) -> list[int]:
    """Positions ordered by severity (highest first), then count, then position."""
    return sorted(
        range(len(anomalies)), key=lambda i: (-anomalies[i].severity.rank, -anomalies[i].count, i)
    )


def _no_fix_reason(context: CodeContext, index: RepoIndex | None) -> str:
    if index is None:
        return msg.NO_REPOSITORY
    return msg.NO_CODE_FOUND if context.empty else msg.REASON_LM_NO_EDIT
