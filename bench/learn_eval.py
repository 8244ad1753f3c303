"""Benchmark (monitoring learning): the fix evaluation before and after ``mendbot learn``,
on cases not used for learning.

1. **Train cases**: each is run through the fix evaluation (``run_case``, kept in
   ``WORK/train/<case>``), diagnosed by the offline playbooks (``--train-with lm``: by
   the LM, whose own verified fixes then teach it). A fix the case's oracle shows fixed
   (failed before, passes after) is marked ``verified`` in that case's database, as the
   verify window would after a deploy (actor ``eval-oracle``);
   :func:`monitoring.learning.verified_examples` turns those into labelled examples
   against the case's own repository.
2. **Compile**: all examples, ``LabeledFewShot`` or ``BootstrapFewShot`` (with
   ``MENDBOT_LM``), saved in ``WORK/programs.db`` (``compiled_programs``).
3. **Test cases**: each run twice, with the uncompiled program and with the compiled one;
   the two summaries (flagged, fixed, harmful, LM requests, tokens) are printed side by side.

Usage (from the repository root; the LM from the usual variables)::

    MENDBOT_LM=openai/<model> OPENAI_BASE_URL=http://127.0.0.1:8765/v1 \\
        .venv/bin/python bench/learn_eval.py --train bookings_api flask_shop \\
        --test fastapi_multi json_worker [--optimizer labeled|bootstrap] [--max-demos 3] \\
        [--train-with playbooks|lm] [--work DIR] [--before EVAL_JSONL]

Without ``MENDBOT_LM`` the playbooks diagnose and both test runs are the same (the
plumbing is exercised, the program is not used). Prints a table and one JSON line
(``{"bench": "learn_eval", ...}``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.proposals import ProposalStatus
from fixes.persistence.db import Database
from fixes.persistence.programs import ProgramStore
from fixes.persistence.store import ProposalStore
from monitoring.diagnosis.compiled import OPTIMIZER_NAMES, compile_program
from monitoring.evaluation.cases import BUNDLED_CASES_DIR, Case, find_cases
from monitoring.evaluation.harness import CaseResult, run_case
from monitoring.evaluation.report import summarize
from monitoring.evaluation.venvs import DEFAULT_VENV_CACHE
from monitoring.learning import load_saved, verified_examples
from monitoring.runtime import edit_policy, lm_config
from settings import Settings, get_settings

COMPARED = ("incidents", "flagged", "fixed", "harmful", "no_code_change_correct", "lm_requests")


def main() -> int:
    args = _parser().parse_args()
    settings = get_settings()
    work = Path(args.work or tempfile.mkdtemp(prefix="mendbot-learn-eval-"))
    train, test = _cases(args.train), _cases(args.test)
    offline = {"lm": None, "lm_only": False}  # the playbooks diagnose and propose edits
    trainer = settings if args.train_with == "lm" else settings.model_copy(update=offline)
    examples, ids = _train(train, trainer, work, args.venv_cache)
    if not examples:
        print("no train case gave a verified fix: nothing to learn from", file=sys.stderr)
        return 1
    program = _compile(examples, ids, settings, work, args.optimizer, args.max_demos)
    before = (
        _summary_from(Path(args.before))
        if args.before
        else _evaluate(test, settings, work / "before", args.venv_cache, None)
    )
    after = _evaluate(test, settings, work / "after", args.venv_cache, lambda: program)
    _report(before, after, examples=len(examples), work=work, lm=settings.lm)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", nargs="+", required=True, metavar="CASE")
    parser.add_argument("--test", nargs="+", required=True, metavar="CASE")
    parser.add_argument("--optimizer", choices=("labeled", "bootstrap"), default="labeled")
    parser.add_argument(
        "--train-with",
        choices=("playbooks", "lm"),
        default="playbooks",
        help="who diagnoses the train cases (their verified fixes are the examples)",
    )
    parser.add_argument("--max-demos", type=int, default=3)
    parser.add_argument("--venv-cache", default=str(DEFAULT_VENV_CACHE))
    parser.add_argument("--work", help="keep everything here (default: a new temp folder)")
    parser.add_argument(
        "--before",
        metavar="JSONL",
        help="take the 'before' figures from this `mendbot eval --json` output (the test "
        "cases, run with the same LM settings and no compiled program) instead of running "
        "them again: a local model takes minutes per diagnosis",
    )
    return parser


def _cases(names: list[str]) -> list[Case]:
    return find_cases([Path(n) if Path(n).is_dir() else BUNDLED_CASES_DIR / n for n in names])


def _train(
    cases: list[Case], settings: Settings, work: Path, venv_cache: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run each train case, mark its oracle-fixed fixes verified, collect the examples."""
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    for case in cases:
        kept = work / "train" / case.name
        result = run_case(case, settings=settings, venv_cache=Path(venv_cache), keep_dir=kept)
        db = Database(f"sqlite:///{kept / 'mendbot.db'}")
        try:
            store = ProposalStore(db)
            for row in result.rows:
                if row.fixed and row.proposal_id:
                    store.transition(row.proposal_id, ProposalStatus.VERIFIED, actor="eval-oracle")
            found = verified_examples(
                store, repo_path=kept / "service", policy=edit_policy(settings)
            )
        finally:
            db.dispose()
        for pid, why in found.skipped:
            print(f"{case.name}: skipped {pid}: {why}", file=sys.stderr)
        print(f"{case.name}: {len(found.rows)} example(s)", file=sys.stderr)
        rows += found.rows
        ids += [f"{case.name}/{pid}" for pid in found.proposal_ids]
    return rows, ids


def _compile(
    examples: list[dict[str, Any]],
    ids: list[str],
    settings: Settings,
    work: Path,
    optimizer: str,
    max_demos: int,
) -> Any:
    lm = None
    config = lm_config(settings)
    if optimizer == "bootstrap":
        from monitoring.diagnosis.lm import build_lm

        assert config is not None, "--optimizer bootstrap needs MENDBOT_LM"
        lm, _engine = build_lm(config)
    state = compile_program(
        examples,
        optimizer="bootstrap" if optimizer == "bootstrap" else "labeled",
        max_demos=max_demos,
        lm=lm,
    )
    db = Database(f"sqlite:///{work / 'programs.db'}")
    try:
        saved = ProgramStore(db).save(
            state,
            optimizer=OPTIMIZER_NAMES[optimizer],
            model=config.model if lm is not None and config else None,
            proposal_ids=ids,
        )
    finally:
        db.dispose()
    print(f"compiled program #{saved.id} ({saved.optimizer}, {len(ids)} examples)", file=sys.stderr)
    return load_saved(saved)


def _evaluate(
    cases: list[Case], settings: Settings, work: Path, venv_cache: str, program: Any
) -> dict[str, Any]:
    results: list[CaseResult] = []
    for case in cases:
        results.append(
            run_case(
                case,
                settings=settings,
                venv_cache=Path(venv_cache),
                keep_dir=work / case.name,
                program=program,
            )
        )
    rows = [row for r in results for row in r.rows]
    extras = [extra for r in results for extra in r.extras]
    return summarize(rows, extras, seconds=sum(r.seconds for r in results))


def _summary_from(path: Path) -> dict[str, Any]:
    """The summary object (``{"type": "summary", ...}``) of a ``mendbot eval --json`` output.

    Raises:
        SystemExit: the file holds no summary object.
    """
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("type") == "summary":
            return item
    raise SystemExit(f"{path}: no summary object (is it `mendbot eval --json` output?)")


def _report(
    before: dict[str, Any], after: dict[str, Any], *, examples: int, work: Path, lm: str | None
) -> None:
    print(f"{'':<24} {'before':>8} {'after':>8}")
    for key in (*COMPARED, "tokens_per_diagnosis"):
        print(f"{key:<24} {before.get(key, '-')!s:>8} {after.get(key, '-')!s:>8}")
    figures = {k: [before.get(k), after.get(k)] for k in (*COMPARED, "tokens_per_diagnosis")}
    line = {"bench": "learn_eval", "lm": lm, "examples": examples, "work": str(work), **figures}
    print(json.dumps(line))


if __name__ == "__main__":
    sys.exit(main())
