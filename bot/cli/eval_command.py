"""Process entry point: ``mendbot eval [CASES_DIR...] [--json] [--venv-cache DIR] [--program
latest|none|ID] [floors]``.

Runs the fix evaluation (:mod:`monitoring.evaluation`) over case folders, or folders of
cases (default: the bundled ``evals/``), with the caller's settings (``MENDBOT_LM`` set =
the LM is evaluated, unset = the offline playbooks; ``--lm-only``: the LM without the
playbooks' edits as a fallback); with an LM, ``--program`` picks the diagnosis program:
``none`` (default) the uncompiled one, ``latest`` or an id one that ``mendbot learn`` saved
in ``DATABASE_URL`` (before and after learning, on the same cases). Progress goes to
stderr, one line per case and incident; the tables, or with ``--json`` one
``{"type": "incident", ...}`` object per incident then ``{"type": "summary", ...}``, go to
stdout.

Exit codes (as in :mod:`bot.cli.main`): 0 done, 1 a floor (``--min-fixed``,
``--max-harmful``, ...) was missed, 2 bad cases or a virtualenv that cannot be built.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from bot.cli.support import fail, open_database_or_exit
from fixes.persistence.programs import ProgramStore
from monitoring.evaluation.cases import BUNDLED_CASES_DIR, CaseError, find_cases
from monitoring.evaluation.harness import CaseResult, run_case
from monitoring.evaluation.report import Floors, IncidentRow, render, summarize, verdict
from monitoring.evaluation.venvs import VenvError
from monitoring.learning import LearnError, program_choice
from settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``mendbot eval``; returns the exit code (0, 1 or 2)."""
    if getattr(args, "lm_only", False):
        if not settings.lm:
            _err("mendbot: --lm-only needs an LM: set MENDBOT_LM (and OPENAI_BASE_URL)")
            return EXIT_USAGE
        settings = settings.model_copy(update={"lm_only": True})
    paths = [Path(p) for p in args.cases] or [BUNDLED_CASES_DIR]
    try:
        cases = find_cases(paths)
    except (CaseError, OSError) as error:
        _err(f"mendbot: {error}")
        return EXIT_USAGE
    if args.keep and any((Path(args.keep) / case.name).exists() for case in cases):
        _err(f"mendbot: --keep {args.keep}: a folder for one of the cases exists already")
        return EXIT_USAGE
    program = _program(getattr(args, "program", "none"), settings)
    started = time.monotonic()
    results: list[CaseResult] = []
    for case in cases:
        _err(f"{case.name}: {len(case.incidents)} incidents")
        try:
            result = run_case(
                case,
                settings=settings,
                venv_cache=Path(args.venv_cache),
                progress=_err,
                keep_dir=Path(args.keep) / case.name if args.keep else None,
                program=program,
            )
        except (VenvError, subprocess.CalledProcessError) as error:
            _err(f"mendbot: {case.name}: {error}")
            return EXIT_USAGE
        for row in result.rows:
            _err(_progress_line(row))
        results.append(result)
    summary = _print_results(results, seconds=time.monotonic() - started, as_json=args.json)
    floors = Floors(
        min_fixed=args.min_fixed,
        max_harmful=args.max_harmful,
        min_flagged=args.min_flagged,
        min_no_code_change_correct=args.min_no_code_change_correct,
    )
    problems = floors.failures(summary)
    for problem in problems:
        _err(f"mendbot: eval below its floor: {problem}")
    return EXIT_FAILED if problems else EXIT_OK


def _print_results(results: list[CaseResult], *, seconds: float, as_json: bool) -> dict[str, Any]:
    """Print the incidents and the summary (tables, or JSON lines); returns the summary."""
    rows = [row for r in results for row in r.rows]
    extras = [extra for r in results for extra in r.extras]
    summary = summarize(rows, extras, seconds=seconds)
    if as_json:
        for row in rows:
            print(json.dumps(row.to_json()))
        print(json.dumps(summary))
    else:
        # A pipe or a CI log gets the tables whole, not squeezed into 80 columns.
        render(Console(width=None if sys.stdout.isatty() else 130), rows, summary)
    return summary


def _program(choice: str, settings: Settings) -> Callable[[], Any] | None:
    """``--program``: None for ``none``; else the saved program from ``DATABASE_URL``
    (which is opened only then). Without ``MENDBOT_LM`` a program has nothing to change.

    Raises:
        SystemExit: (2) no such program, it does not load, or the database cannot be read.
    """
    if choice == "none":
        return None
    if not settings.lm:
        _err(f"mendbot: --program {choice}: MENDBOT_LM is unset, so the playbooks diagnose")
        return None
    db = open_database_or_exit(settings)
    try:
        program = program_choice(ProgramStore(db), choice)
    except LearnError as error:
        raise fail(str(error)) from error
    finally:
        db.dispose()
    _err(f"mendbot: LM diagnoses use compiled program {choice}")
    return program


def _progress_line(row: IncidentRow) -> str:
    flagged = f"{row.flagged_kind} x{row.flagged_count}" if row.flagged_kind else "not flagged"
    oracle = (
        "-"
        if row.oracle_before is None
        else f"{_mark(row.oracle_before)}->{_mark(row.oracle_after)}"
    )
    proof = {True: " (proven)", False: " (no proof)"}.get(row.proven, "")  # type: ignore[arg-type]
    return (
        f"  {row.case}/{row.incident}: {flagged}, {row.edits} edit(s), "
        f"{row.outcome or 'not applied'}{proof}, oracle {oracle}: {verdict(row)}"
    )


def _mark(value: bool | None) -> str:
    return "pass" if value else "fail"


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
