"""Orchestration: outcomes teach the diagnosis: ``mendbot learn`` and the compiled program.

**Examples.** Every code fix a person approved whose status is ``verified`` (the error was
gone for the verify window after its deploy; a fix reverted since is not one) becomes a
labelled example (:func:`verified_examples`). Its inputs are the ones the diagnoser gives
the LM, rebuilt for the code the fix was applied to: the tree of the fix commit's first
parent (``git archive``, read-only: the checkout is not touched), the stored anomaly, the
same context, masking and bounds (:func:`monitoring.diagnosis.inputs.build_inputs`). Its
outputs are the stored root cause and diagnosis, and the edits that were verified, masked
with the same placeholders as the code. A fix whose commit is gone, or whose edits do not
apply to that tree, is skipped with the reason.

**Learning** (:func:`learn`): the examples compile the diagnosis program
(:func:`monitoring.diagnosis.compiled.compile_program`: ``LabeledFewShot`` without an LM,
``BootstrapFewShot`` with the fix metric when ``MENDBOT_LM`` is set), and the result is
saved in the database (:class:`~fixes.persistence.programs.ProgramStore`, secrets
masked). No verified example: :class:`NoExamples`, nothing saved.

**Using it** (:class:`ProgramLoader`): before each LM diagnosis the diagnoser asks for the
newest saved program (one cheap query); a new one is loaded once and logged, one that does
not load is a warning and the uncompiled program is used.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.edits import EditRejected, locate_in_repo
from core.evidence import recheck
from core.models import Anomaly
from core.policy import DEFAULT_POLICY, EditPolicy
from core.proposals import Edit, FixProposal, ProposalStatus
from core.redact import Redactor
from fixes.persistence.programs import ProgramStore, SavedProgram
from fixes.persistence.store import ProposalStore
from monitoring.diagnosis.config import LMConfig
from monitoring.diagnosis.context import build_context
from monitoring.diagnosis.inputs import build_inputs
from monitoring.diagnosis.repo import RepoIndex

logger = logging.getLogger("mendbot.learning")

#: Verified fixes read at most (newest first).
MAX_VERIFIED = 500
#: Seconds ``git archive`` may take for one fix.
GIT_TIMEOUT_SECONDS = 60.0


class LearnError(Exception):
    """``mendbot learn`` cannot compile a program; ``str(e)`` says why."""


class NoExamples(LearnError):
    """No verified fix could become an example (nothing is saved)."""


@dataclass
class Examples:
    """What the verified fixes gave.

    Attributes:
        rows: labelled examples (:func:`monitoring.diagnosis.compiled.example`).
        proposal_ids: the fix of each row, same order.
        skipped: ``(proposal id, why)`` for verified fixes that gave none.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    proposal_ids: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class LearnResult:
    """A saved program and what it was compiled from."""

    program: SavedProgram
    examples: Examples
    demos: dict[str, int]


def verified_examples(
    store: ProposalStore, *, repo_path: Path, policy: EditPolicy = DEFAULT_POLICY
) -> Examples:
    """Labelled examples from the verified code fixes (see the module docstring).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database failed.
    """
    found = Examples()
    verified = store.list(statuses={ProposalStatus.VERIFIED}, limit=MAX_VERIFIED)
    for proposal in reversed(verified):  # oldest first
        if not proposal.edits or proposal.action is not None:
            continue
        try:
            row = _example(proposal, repo_path, policy)
        except LearnError as why:
            found.skipped.append((proposal.id, str(why)))
            continue
        found.rows.append(row)
        found.proposal_ids.append(proposal.id)
    return found


def _example(proposal: FixProposal, repo_path: Path, policy: EditPolicy) -> dict[str, Any]:
    from monitoring.diagnosis.compiled import example  # imports dspy

    if not proposal.commit_sha:
        raise LearnError("no fix commit recorded")
    with tempfile.TemporaryDirectory(prefix="mendbot-learn-") as scratch:
        root = Path(scratch)
        _tree_before(repo_path, proposal.commit_sha, root)
        _check_edits_apply(proposal, root)
        anomaly = _frames_found_again(proposal, root, policy)
        index = RepoIndex(root=root, policy=policy)
        context = build_context(anomaly, index)
        code = Redactor(label_prefix="CODE_", source_code=True)
        inputs = build_inputs(anomaly, context, index, log_redactor=Redactor(), code_redactor=code)
    if not inputs.current_code:
        raise LearnError("no code context before the fix (the evidence is not in that tree)")
    edits = [
        Edit(path=e.path, old_text=code.redact(e.old_text), new_text=code.redact(e.new_text))
        for e in proposal.edits
    ]
    d, test = proposal.diagnosis, proposal.regression_test
    return example(
        inputs,
        root_cause=d.root_cause,
        severity=d.severity_assessment.value,
        components=d.affected_components,
        confidence=d.confidence,
        edits=edits,
        reasoning=proposal.reasoning,
        risk_level=proposal.risk.value,
        risk_notes=proposal.risk_notes,
        regression_test=code.redact(test.content) if test is not None and proposal.proven else "",
    )


def _frames_found_again(proposal: FixProposal, root: Path, policy: EditPolicy) -> Anomaly:
    """The anomaly with each frame the proposal's evidence vouched for moved to where that
    line is in ``root`` (found again by its text, :func:`core.evidence.recheck`): fixes
    applied between the diagnosis and this one may have moved it."""
    check = recheck(root, proposal.evidence, anomaly=proposal.anomaly, policy=policy)
    moved: dict[tuple[str, int], int] = {}
    for old in (e for e in proposal.evidence if e.kind == "frame"):
        new = next(
            (
                h
                for h in check.held
                if (h.kind, h.path, h.detail, h.function, h.code_sha256)
                == (old.kind, old.path, old.detail, old.function, old.code_sha256)
            ),
            None,
        )
        if new is not None:
            moved[(old.detail, old.line)] = new.line
    frames = [
        f.model_copy(update={"line": moved.get((f.file, f.line), f.line)})
        for f in proposal.anomaly.frames
    ]
    return proposal.anomaly.model_copy(update={"frames": frames})


def _check_edits_apply(proposal: FixProposal, root: Path) -> None:
    """Each verified edit's old text occurs once in the tree before the fix (a new file's
    edit has none); a path leaving the tree is refused, never read."""
    for edit in proposal.edits:
        try:
            path = locate_in_repo(root, edit.path)
        except EditRejected as rejected:
            raise LearnError(f"an edit's path is refused: {rejected}") from rejected
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
        if edit.old_text and (text is None or text.count(edit.old_text) != 1):
            raise LearnError(f"the verified edit of {edit.path} does not apply before the fix")


_SHA = re.compile(r"[0-9a-f]{7,64}")


def _tree_before(repo_path: Path, commit_sha: str, into: Path) -> None:
    """Extract the tree of ``commit_sha``'s first parent into ``into`` (read-only for the
    repository; archive members that would land outside ``into`` are refused)."""
    if not _SHA.fullmatch(commit_sha):  # never an option to git, whatever the row holds
        raise LearnError(f"the stored commit {commit_sha[:64]!r} is not a commit sha")
    try:
        archived = subprocess.run(
            ["git", "-C", str(repo_path), "archive", "--format=tar", f"{commit_sha}^1"],
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LearnError(f"git archive failed: {type(error).__name__}") from error
    if archived.returncode != 0:
        reason = archived.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LearnError(f"the fix commit is not in {repo_path}: {(reason or ['?'])[-1][:200]}")
    with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as tar:
        tar.extractall(into, filter="data")


def learn(
    store: ProposalStore,
    programs: ProgramStore,
    *,
    repo_path: Path,
    lm: LMConfig | None,
    optimizer: str = "auto",
    max_demos: int = 3,
    policy: EditPolicy = DEFAULT_POLICY,
) -> LearnResult:
    """Compile the diagnosis program from the verified fixes and save it.

    Args:
        store, programs: the database's proposals and compiled programs.
        repo_path: the service's checkout (``TARGET_REPO_PATH``) holding the fix commits.
        lm: the LM for ``bootstrap`` (``MENDBOT_LM``); None = ``labeled`` only.
        optimizer, max_demos: ``auto`` (``bootstrap`` with an LM, else ``labeled``),
            ``labeled`` or ``bootstrap``; demos per predictor at most.

    Returns:
        The saved program, the examples and the demos each predictor got.

    Raises:
        NoExamples: no verified fix gave an example (nothing saved).
        LearnError: ``bootstrap`` without an LM, or compiling failed (nothing saved).
        sqlalchemy.exc.SQLAlchemyError: the database failed.
    """
    from monitoring.diagnosis.compiled import OPTIMIZER_NAMES, compile_program

    chosen = ("bootstrap" if lm else "labeled") if optimizer == "auto" else optimizer
    if chosen == "bootstrap" and lm is None:
        raise LearnError("--optimizer bootstrap needs an LM: set MENDBOT_LM")
    examples = verified_examples(store, repo_path=repo_path, policy=policy)
    if not examples.rows:
        raise NoExamples(_no_examples(examples))
    try:
        state = compile_program(
            examples.rows,
            optimizer="bootstrap" if chosen == "bootstrap" else "labeled",
            max_demos=max_demos,
            lm=_build_lm(lm) if chosen == "bootstrap" else None,
        )
    except Exception as error:  # DSPy and LM errors: say why, save nothing
        raise LearnError(f"compiling failed: {type(error).__name__}: {error}"[:300]) from error
    model = lm.model if lm and chosen == "bootstrap" else None
    saved = programs.save(
        state, optimizer=OPTIMIZER_NAMES[chosen], model=model, proposal_ids=examples.proposal_ids
    )
    demos = {name: len(p["demos"]) for name, p in state["predictors"].items()}
    return LearnResult(program=saved, examples=examples, demos=demos)


def _no_examples(examples: Examples) -> str:
    if not examples.skipped:
        return (
            "no verified fix yet: nothing to learn from (a fix becomes an example once it "
            "is verified after its deploy)"
        )
    reasons = "; ".join(f"{pid}: {why}" for pid, why in examples.skipped[:5])
    return f"no verified fix gave an example ({len(examples.skipped)} skipped: {reasons})"


def _build_lm(config: LMConfig | None) -> Any:
    from monitoring.diagnosis.lm import build_lm

    assert config is not None
    lm, _engine = build_lm(config)
    return lm


class ProgramLoader:
    """The diagnoser's ``program`` hook: the newest saved compiled program, or None.

    Each call asks the database for the newest id; a new one is loaded (and logged) once,
    a corrupt one is a warning once and None (the uncompiled program) until a newer one is
    saved.

    Args:
        programs: the saved programs.
    """

    def __init__(self, programs: ProgramStore) -> None:
        self.programs = programs
        self._id: int | None = None
        self._module: Any = None

    def __call__(self) -> Any:
        latest = self.programs.latest_id()
        if latest is None or latest == self._id:
            return self._module if latest is not None else None
        saved = self.programs.get(latest)
        self._id, self._module = latest, load_saved(saved) if saved is not None else None
        return self._module


def load_saved(saved: SavedProgram) -> Any:
    """The compiled program of ``saved``, or None (with a warning) when it does not load."""
    from monitoring.diagnosis.compiled import CompiledProgramError, load_program

    try:
        module = load_program(saved.state)
    except CompiledProgramError as error:
        logger.warning(
            "compiled diagnosis program #%d cannot be loaded (%s); using the uncompiled program",
            saved.id,
            error,
        )
        return None
    module.mendbot_program_id = saved.id  # part of the diagnosis cache's key
    logger.info(
        "diagnosis uses compiled program #%d (%s, %d verified fixes, saved %s)",
        saved.id,
        saved.optimizer,
        len(saved.proposal_ids),
        saved.created_at.isoformat(),
    )
    return module


def program_choice(programs: ProgramStore, choice: str) -> Callable[[], Any] | None:
    """``--program latest|none|ID`` as a diagnoser hook: None for ``none``.

    Raises:
        LearnError: ``latest`` with no program saved, or an id that is not saved.
    """
    if choice == "none":
        return None
    saved = programs.latest() if choice == "latest" else _by_id(programs, choice)
    if saved is None:
        raise LearnError(f"no compiled program {choice!r} is saved (run mendbot learn)")
    module = load_saved(saved)
    if module is None:
        raise LearnError(f"compiled program #{saved.id} cannot be loaded (see the warning)")
    return lambda: module


def _by_id(programs: ProgramStore, choice: str) -> SavedProgram | None:
    if not choice.isdigit():
        raise LearnError(f"--program takes latest, none or a program id, not {choice[:40]!r}")
    return programs.get(int(choice))
